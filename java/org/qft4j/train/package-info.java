/**
 * Training: QFT (INT8 weights, gradients and Lion momentum), PEQA (AdamW on the scales of b-bit weights,
 * {@link org.qft4j.train.PeqaTensor}; embedding and norms frozen) and fp32 Lion/AdamW baselines in one loop.
 *
 * <p>Flow of one step: {@link org.qft4j.train.Trainer} draws micro-batches ({@link org.qft4j.train.BatchSampler}),
 * the LLaMA engine runs forward and backward through {@link org.qft4j.train.TrainableTensor}s (the
 * {@code WeightMatrix} seam); each completed weight gradient goes through the {@link org.qft4j.train.ParameterSet}
 * to the step's {@link org.qft4j.train.GradientPolicy}: {@link org.qft4j.train.StashPolicy} keeps the step's INT8
 * gradients on a {@link org.qft4j.train.GradientStack} and applies them after an exact non-finite check and global
 * clip; {@link org.qft4j.train.FusedPerLayerPolicy} applies each as it arrives. The
 * {@link org.qft4j.train.TrainOptimizer} (QFT: {@code org.qft4j.qft.QuantLion} on {@code HybridWeight}s) updates the
 * weights in place. Listeners ({@link org.qft4j.train.ProgressBar}, {@link org.qft4j.train.MetricsJsonl},
 * {@link org.qft4j.train.LossPlot}) observe; nothing is global, so trainers can run side by side.
 *
 * <p>Checkpoints: {@code Trainer.saveCheckpoint(store)} / {@code resume(checkpoint)} / {@code resumeLatest(dir)} save
 * and restore the complete state through {@code org.qft4j.checkpoint.CheckpointStore} ({@code TrainState}
 * names the tensors; step, loader position, config and provenance go in the metadata; the stochastic-rounding
 * streams are keyed by (seed, step)), so a resumed run is bit-identical to an uninterrupted one. Exports:
 * {@code exportHf} (Hugging Face LLaMA directory), {@code exportInt8} ({@code org.qft4j.llama.Int8HybridFormat}) and,
 * for PEQA, {@code exportPeqa} (the tuned b-bit model, {@code org.qft4j.peqa.PeqaFile}).
 */
package org.qft4j.train;
