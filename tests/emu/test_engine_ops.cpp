// Engine ops of DeviceOpsCudaTest that changed without a GPU run: the chunked cross-entropy (cross_entropy.cu),
// SwiGLU forward and backward, also in place (swiglu.cu), the embedding lookup, scatter-add, gradient row range
// and INT8 hybrid-table lookup (embedding.cu), with its tolerances: 1e-5 of max, bit-exact where it is.
// emu-cuda: cross_entropy.cu swiglu.cu embedding.cu
#include "driver.h"
#include "qft4j/cross_entropy.h"
#include "qft4j/embedding.h"
#include "qft4j/hybrid_weight.h"
#include "qft4j/swiglu.h"

using drv::Dev;

namespace {

constexpr double kRel = 1e-5;  // DeviceOpsCudaTest.REL

template <class T>
int64_t A(const std::vector<T>& v) { return (int64_t)v.data(); }

std::vector<int32_t> ints(size_t n, uint64_t seed, int bound) {
    std::mt19937_64 r(seed);
    std::vector<int32_t> v(n);
    for (auto& x : v) x = (int32_t)(r() % (uint64_t)bound);
    return v;
}

// {losses, dlogits} through begin / stats per chunk / finish / grad per chunk (DeviceOpRuns.crossEntropy); device
// memory is host memory in the emulator, so both devices run on the same kind of buffers.
std::vector<float> cross_entropy(int dev, const std::vector<float>& logits, const std::vector<int32_t>& targets, int64_t vocab, float dscale,
                                 int64_t chunk, std::vector<float>& dlogits) {
    const int64_t n = (int64_t)targets.size();
    Dev<int32_t> t(targets);
    Dev<float> mx(n), tl(n), lse(n), losses(n);
    Dev<int64_t> sum(n);
    drv::status("ce begin", qft_cross_entropy_chunk_begin(dev, n, mx.addr(), sum.addr(), tl.addr()));
    for (int64_t v0 = 0; v0 < vocab; v0 += chunk) {
        const int64_t cols = std::min(chunk, vocab - v0);
        std::vector<float> c(n * cols);
        for (int64_t r = 0; r < n; ++r) std::copy_n(&logits[r * vocab + v0], cols, &c[r * cols]);
        Dev<float> dc(c);
        drv::status("ce stats", qft_cross_entropy_chunk_stats(dev, dc.addr(), n, cols, v0, t.addr(), mx.addr(), sum.addr(), tl.addr()));
    }
    drv::status("ce finish", qft_cross_entropy_chunk_finish(dev, n, vocab, t.addr(), mx.addr(), sum.addr(), tl.addr(), lse.addr(), losses.addr()));
    dlogits.assign(n * vocab, 0.0f);
    for (int64_t v0 = 0; v0 < vocab; v0 += chunk) {
        const int64_t cols = std::min(chunk, vocab - v0);
        std::vector<float> c(n * cols);
        for (int64_t r = 0; r < n; ++r) std::copy_n(&logits[r * vocab + v0], cols, &c[r * cols]);
        Dev<float> dc(c);
        drv::status("ce grad", qft_cross_entropy_chunk_grad(dev, dc.addr(), n, cols, v0, t.addr(), lse.addr(), dscale));
        for (int64_t r = 0; r < n; ++r) std::copy_n(&dc.p[r * cols], cols, &dlogits[r * vocab + v0]);
    }
    return losses.host();
}

}  // namespace

void run_cases() {
    {  // DeviceOpsCudaTest.crossEntropyWithIgnoredRows
        const int64_t n = 65, vocab = 32000;
        const auto logits = drv::randn(n * vocab, 18, 4);
        auto targets = ints(n, 19, (int)vocab);
        targets[0] = targets[40] = -1;
        for (int64_t chunk : {vocab, (int64_t)4096, (int64_t)777}) {
            std::vector<float> dc, de;
            const auto lc = cross_entropy(-1, logits, targets, vocab, 1.0f / 63, chunk, dc);
            const auto le = cross_entropy(0, logits, targets, vocab, 1.0f / 63, chunk, de);
            drv::close("cross_entropy losses, chunks of " + std::to_string(chunk), lc, le, kRel);
            drv::close("cross_entropy dlogits, chunks of " + std::to_string(chunk), dc, de, kRel);
        }
    }
    {  // DeviceOpsCudaTest.swiglu, and its in-place backward
        const int64_t n = 100003;
        const auto h1 = drv::randn(n, 15, 3), h3 = drv::randn(n, 16, 1), dg = drv::randn(n, 17, 1);
        std::vector<float> g(n), dh1(n), dh3(n);
        drv::status("swiglu cpu", qft_swiglu_forward(-1, A(h1), A(h3), n, A(g)));
        drv::status("swiglu cpu", qft_swiglu_backward(-1, A(dg), A(h1), A(h3), n, A(dh1), A(dh3)));
        Dev<float> a(h1), b(h3), ddg(dg), eg(n), e1(n), e3(n);
        drv::status("swiglu emu", qft_swiglu_forward(0, a.addr(), b.addr(), n, eg.addr()));
        drv::status("swiglu emu", qft_swiglu_backward(0, ddg.addr(), a.addr(), b.addr(), n, e1.addr(), e3.addr()));
        drv::close("swiglu g", g, eg.host(), kRel);
        drv::close("swiglu dh1", dh1, e1.host(), kRel);
        drv::close("swiglu dh3", dh3, e3.host(), kRel);
        drv::status("swiglu emu in place", qft_swiglu_backward(0, ddg.addr(), a.addr(), b.addr(), n, a.addr(), b.addr()));
        drv::exact("swiglu backward in place = out of place (dh1)", e1.host(), a.host());
        drv::exact("swiglu backward in place = out of place (dh3)", e3.host(), b.host());
    }
    {  // DeviceOpsCudaTest.embedding
        const int64_t vocab = 300, c = 520, n = 700;
        auto ids = ints(n, 1, (int)vocab);
        ids[5] = ids[6] = ids[600] = 17;
        const auto table = drv::randn(vocab * c, 2), dout = drv::randn(n * c, 3), dtable0 = drv::randn(vocab * c, 4);
        std::vector<float> out(n * c), dt = dtable0;
        drv::status("embedding cpu", qft_embedding_forward(-1, A(table), vocab, c, A(ids), n, A(out)));
        drv::status("embedding cpu", qft_embedding_backward(-1, A(dout), A(ids), n, vocab, c, 0, vocab, A(dt)));
        Dev<float> et(table), eo(n * c), edo(dout), edt(dtable0);
        Dev<int32_t> eid(ids);
        drv::status("embedding emu", qft_embedding_forward(0, et.addr(), vocab, c, eid.addr(), n, eo.addr()));
        drv::status("embedding emu", qft_embedding_backward(0, edo.addr(), eid.addr(), n, vocab, c, 0, vocab, edt.addr()));
        drv::exact("embedding forward", out, eo.host());
        drv::close("embedding dtable", dt, edt.host(), kRel);
        std::vector<float> part(100 * c, 0.0f);
        Dev<float> epart(std::vector<float>(100 * c, 0.0f));
        drv::status("embedding rows cpu", qft_embedding_backward(-1, A(dout), A(ids), n, vocab, c, 10, 100, A(part)));
        drv::status("embedding rows emu", qft_embedding_backward(0, edo.addr(), eid.addr(), n, vocab, c, 10, 100, epart.addr()));
        drv::close("embedding gradient rows [10, 110)", part, epart.host(), kRel);
        // The hybrid INT8 table (1% outliers), quantized once on the CPU, looked up by both.
        int64_t nnz = 0;
        drv::status("nnz", qft_hybrid_nnz(vocab, c, 0.01, 0, &nnz));
        std::vector<int8_t> codes(vocab * c);
        std::vector<float> scales(vocab), values(nnz), hc(n * c);
        std::vector<int32_t> rp(vocab + 1), ci(nnz);
        drv::status("hybrid", qft_hybrid_quantize(-1, A(table), vocab, c, 0.01, 0, A(codes), A(scales), A(rp), A(ci), A(values), nnz));
        drv::status("hybrid lookup cpu", qft_embedding_forward_hybrid(-1, A(codes), A(scales), A(rp), A(ci), A(values), vocab, c, A(ids), n, A(hc)));
        Dev<int8_t> dcodes(codes);
        Dev<float> dscales(scales), dvalues(values), dhc(n * c);
        Dev<int32_t> drp(rp), dci(ci);
        drv::status("hybrid lookup emu", qft_embedding_forward_hybrid(0, dcodes.addr(), dscales.addr(), drp.addr(), dci.addr(), dvalues.addr(), vocab, c,
                                                                      eid.addr(), n, dhc.addr()));
        drv::exact("embedding forward, hybrid INT8 table", hc, dhc.host());
    }
}
