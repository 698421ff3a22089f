// The emulator stands in for the CUDA runtime header (tests/emu/README.md).
#pragma once
#include "../cuda_emu.h"
