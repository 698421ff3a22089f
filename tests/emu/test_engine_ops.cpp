// Engine ops of DeviceOpsCudaTest, with its tolerances (1e-5 of max, bit-exact where it is): the chunked
// cross-entropy (cross_entropy.cu), SwiGLU forward and backward, also in place (swiglu.cu), the embedding lookup,
// scatter-add, gradient row range and INT8 hybrid-table lookup (embedding.cu), RMSNorm (rmsnorm.cu), the fp32
// attention kernels (attention.cu) and the SIMT fp32 GEMM in its three forms (matmul_f32.cu).
// emu-cuda: cross_entropy.cu swiglu.cu embedding.cu rmsnorm.cu attention.cu attention_tf32.cu matmul_f32.cu matmul_f32_tf32.cu
#include "driver.h"
#include "qft4j/cross_entropy.h"
#include "qft4j/embedding.h"
#include "qft4j/attention.h"
#include "qft4j/hybrid_weight.h"
#include "qft4j/matmul_f32.h"
#include "qft4j/rmsnorm.h"
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
    for (int64_t c : {64, 300, 4096}) {  // DeviceOpsCudaTest.rmsnorm
        const int64_t n = 33;
        const auto x = drv::randn(n * c, 5, 2), w = drv::randn(c, 6), dy = drv::randn(n * c, 7), dx0 = drv::randn(n * c, 8), dw0 = drv::randn(c, 9);
        std::vector<float> y(n * c), rstd(n), dx = dx0, dw = dw0;
        drv::status("rmsnorm cpu", qft_rmsnorm_forward(-1, A(x), A(w), n, c, 1e-5f, A(y), A(rstd)));
        drv::status("rmsnorm cpu", qft_rmsnorm_backward(-1, A(dy), A(x), A(w), A(rstd), n, c, A(dx), A(dw)));
        Dev<float> ex(x), ew(w), ey(n * c), er(n), edy(dy), edx(dx0), edw(dw0);
        drv::status("rmsnorm emu", qft_rmsnorm_forward(0, ex.addr(), ew.addr(), n, c, 1e-5f, ey.addr(), er.addr()));
        drv::status("rmsnorm emu", qft_rmsnorm_backward(0, edy.addr(), ex.addr(), ew.addr(), er.addr(), n, c, edx.addr(), edw.addr()));
        const std::string at = " at C " + std::to_string(c);
        drv::close("rmsnorm y" + at, y, ey.host(), kRel);
        drv::close("rmsnorm rstd" + at, rstd, er.host(), kRel);
        drv::close("rmsnorm dx" + at, dx, edx.host(), kRel);
        drv::close("rmsnorm dw" + at, dw, edw.host(), kRel);
    }
    // DeviceOpsCudaTest.groupedQueryAttention (fp32 products)
    const int64_t shapes[][5] = {{2, 7, 6, 2, 6}, {2, 200, 8, 2, 64}, {1, 130, 4, 4, 128}, {1, 65, 6, 3, 48}};
    for (auto& s : shapes) {
        const int64_t B = s[0], T = s[1], nh = s[2], nkv = s[3], hs = s[4], n = B * T;
        const auto q = drv::randn(n * nh * hs, 11), k = drv::randn(n * nkv * hs, 12), v = drv::randn(n * nkv * hs, 13), dout = drv::randn(n * nh * hs, 14);
        std::vector<float> want[6] = {std::vector<float>(n * nh), std::vector<float>(n * nh * hs), std::vector<float>(n * nh * hs),
                                      std::vector<float>(n * nkv * hs), std::vector<float>(n * nkv * hs), std::vector<float>(n * nh)};
        drv::status("attention cpu", qft_attention_forward(-1, A(q), A(k), A(v), B, T, nh, nkv, hs, A(want[0]), A(want[1]), QFT_MATH_FP32));
        drv::status("attention cpu", qft_attention_backward(-1, A(dout), A(q), A(k), A(v), A(want[1]), A(want[0]), B, T, nh, nkv, hs, A(want[5]),
                                                            A(want[2]), A(want[3]), A(want[4]), QFT_MATH_FP32));
        Dev<float> dq_(q), dk_(k), dv_(v), ddo(dout), lse(n * nh), out(n * nh * hs), delta(n * nh), dq(n * nh * hs), dk(n * nkv * hs), dv(n * nkv * hs);
        drv::status("attention emu", qft_attention_forward(0, dq_.addr(), dk_.addr(), dv_.addr(), B, T, nh, nkv, hs, lse.addr(), out.addr(), QFT_MATH_FP32));
        drv::status("attention emu", qft_attention_backward(0, ddo.addr(), dq_.addr(), dk_.addr(), dv_.addr(), out.addr(), lse.addr(), B, T, nh, nkv, hs,
                                                            delta.addr(), dq.addr(), dk.addr(), dv.addr(), QFT_MATH_FP32));
        const Dev<float>* got[6] = {&lse, &out, &dq, &dk, &dv, &delta};
        const char* names[6] = {"lse", "out", "dq", "dk", "dv", "delta"};
        char at[96];
        snprintf(at, sizeof at, "B %lld T %lld heads %lld kv %lld hs %lld", (long long)B, (long long)T, (long long)nh, (long long)nkv, (long long)hs);
        for (int i = 0; i < 6; ++i) drv::close(std::string("attention fp32 ") + names[i] + " " + at, want[i], got[i]->host(), kRel);
    }
    // DeviceOpsCudaTest.matmulFormsAcrossTileBoundaries (QFT_MATH_FP32: the SIMT kernel)
    const int64_t mshapes[][3] = {{1, 7, 5}, {130, 67, 129}, {257, 300, 190}, {64, 64, 64}};
    for (auto& s : mshapes)
        for (int acc : {0, 1}) {
            const int64_t n = s[0], out = s[1], in = s[2];
            const auto x = drv::randn(n * in, 20), w = drv::randn(out * in, 21), dy = drv::randn(n * out, 22);
            const auto y0 = drv::randn(n * out, 23), dx0 = drv::randn(n * in, 24), dw0 = drv::randn(out * in, 25);
            std::vector<float> y = y0, dx = dx0, dw = dw0;
            drv::status("mm cpu", qft_matmul_f32_nt(-1, A(x), A(w), n, out, in, A(y), acc, QFT_MATH_FP32));
            drv::status("mm cpu", qft_matmul_f32_nn(-1, A(dy), A(w), n, out, in, A(dx), acc, QFT_MATH_FP32));
            drv::status("mm cpu", qft_matmul_f32_tn(-1, A(dy), A(x), n, out, in, A(dw), acc, QFT_MATH_FP32));
            Dev<float> ex(x), ew(w), edy(dy), ey(y0), edx(dx0), edw(dw0);
            drv::status("mm emu", qft_matmul_f32_nt(0, ex.addr(), ew.addr(), n, out, in, ey.addr(), acc, QFT_MATH_FP32));
            drv::status("mm emu", qft_matmul_f32_nn(0, edy.addr(), ew.addr(), n, out, in, edx.addr(), acc, QFT_MATH_FP32));
            drv::status("mm emu", qft_matmul_f32_tn(0, edy.addr(), ex.addr(), n, out, in, edw.addr(), acc, QFT_MATH_FP32));
            char at[96];
            snprintf(at, sizeof at, "n %lld out %lld in %lld%s", (long long)n, (long long)out, (long long)in, acc ? " acc" : "");
            drv::close(std::string("matmul fp32 nt y  ") + at, y, ey.host(), kRel);
            drv::close(std::string("matmul fp32 nn dx ") + at, dx, edx.host(), kRel);
            drv::close(std::string("matmul fp32 tn dw ") + at, dw, edw.host(), kRel);
        }
}
