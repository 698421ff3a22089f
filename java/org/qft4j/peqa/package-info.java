/**
 * PEQA (Kim et al., NeurIPS 2023, arXiv 2305.14152): a LLaMA model whose linear weights are b-bit (3 or 4)
 * integers with per-group fp32 scales, of which only the scales are trained.
 *
 * <ul>
 *   <li>{@link org.qft4j.peqa.PackedWeight}: the packed storage (codes 32/b per 32-bit word, scales, zero-points)
 *       and its RTN initialisation; layout in {@code native/include/qft4j/peqa.h}.</li>
 *   <li>{@link org.qft4j.peqa.PeqaMatrix}: the {@link org.qft4j.llama.WeightMatrix} the engine calls; forward and
 *       backward run the native dequantize-in-the-matmul kernels (CPU or CUDA) and accumulate the scale gradient
 *       without forming dW; no gradient memory exists for the frozen codes.</li>
 *   <li>{@link org.qft4j.peqa.ScaleAdamW}: AdamW (weight decay 0) over the scales only.</li>
 *   <li>{@link org.qft4j.peqa.PeqaModel}: RTN-quantize every block matrix of a {@link org.qft4j.llama.LlamaWeights}
 *       (embedding and norms stay fp32), export the tuned b-bit model ({@link org.qft4j.peqa.PeqaFile}) and load
 *       it back for evaluation or generation.</li>
 * </ul>
 *
 * <p>The trainer ({@code org.qft4j.train}, optimizer {@code PEQA_ADAMW}, CLI {@code train --method peqa}) runs the same
 * matrices with its data, schedule, checkpoints and metrics; by hand:
 *
 * <pre>{@code
 * LlamaWeights q = PeqaModel.quantize(Llama2cFormat.load(bin), Device.CPU, 4, 128);
 * LlamaModel model = new LlamaModel(q, batch, T, false);
 * ScaleAdamW opt = ScaleAdamW.peqa(PeqaModel.matrices(q));
 * for (...) { model.forward(tokens, targets, batch, T); model.backward(); opt.step(lr); }
 * PeqaModel.export(q, Path.of("tuned.peqa"));
 * PeqaModel.close(q);
 * }</pre>
 */
package org.qft4j.peqa;
