// Stands in for the CUDA runtime header when the emulator compiles native/cuda (tests/emu/README.md).
#pragma once
#include "cuda_emu.h"
