/**
 * QFT's training state (Li et al. 2023, arXiv 2310.07147): hybrid dense/sparse INT8 weights, INT8 gradients and
 * INT8 Lion momentum, and the fused Lion step that updates them in one pass, on the CPU or a CUDA device.
 *
 * <p>A Java engine that keeps activations in {@code float[]} uses it like this (CPU device, one weight):
 * <pre>{@code
 * HybridWeight w = HybridWeight.quantize(w0, rows, cols, HybridConfig.DEFAULT);   // 1% fp32 outliers
 * Int8Blocks grad = Int8Blocks.zeros(Device.CPU, rows, cols, Int8Blocks.DEFAULT_BLOCK);
 * Int8Blocks mom = Int8Blocks.zeros(Device.CPU, rows, cols, Int8Blocks.DEFAULT_BLOCK);
 * QuantLion lion = new QuantLion(Device.CPU, LionConfig.of(1e-5f).withWeightDecay(0.1f).withSeed(seed));
 * List<QuantLion.Param> params = List.of(new QuantLion.Param(0, w, grad, mom)); // ids stable across runs
 *
 * float[] dense = new float[rows * cols];
 * w.dequantize(dense);            // before the forward pass: the matmul reads fp32
 * ...                             // backward accumulates dW into a float[] dW
 * grad.quantizeFrom(dW);          // at gradientComplete(): INT8, 256-element blocks
 * lion.step(params);              // all weights at once; lion.lastStepSkipped() after a NaN/Inf gradient
 * MemoryReport.of(params);        // bytes per parameter of weights, outliers, scales, momentum, gradients
 * }</pre>
 * To resume a run bit-exactly, restore the weights, momentum, the seed and {@link org.qft4j.qft.QuantLion#setStep}.
 */
package org.qft4j.qft;
