/**
 * Training checkpoints that survive crashes, full disks and corrupt or hostile files.
 *
 * <p>Format: safetensors ({@link org.qft4j.checkpoint.Safetensors}), readable by the Hugging Face
 * library, with string metadata and a CRC32C of the whole file. A trainer uses it like this:
 *
 * <pre>{@code
 * CheckpointStore store = CheckpointStore.open(runDir).keepLast(3)
 *         .onSaveFailure(CheckpointStore.OnSaveFailure.CONTINUE);        // or STOP (the default)
 * CheckpointSchema schema = CheckpointSchema.ANY
 *         .require("layers.0.wq.codes", DType.I8, dim, dim)              // from the model config
 *         .require("layers.0.wq.scales", DType.F32, dim)
 *         .rejectUnknown();
 * Optional<Checkpoint> resume = store.latestValid(schema);              // newest complete, valid one
 * ...
 * Map<String, String> meta = new HashMap<>(Provenance.of(configText, dataSha256, seed));
 * meta.put("loader.position", Long.toString(position));
 * store.save(step, tensors, meta);                                      // atomic: temp, fsync, rename, fsync dir
 * }</pre>
 *
 * <p>Tensors to save are {@link org.qft4j.checkpoint.TensorData}: heap arrays through
 * {@link org.qft4j.checkpoint.TensorBuffer}, or any implementation that streams its bytes (a native
 * tensor copied out in chunks). Every loading problem is a checked
 * {@link org.qft4j.checkpoint.CheckpointException} whose message names the file, the problem and the fix.
 */
package org.qft4j.checkpoint;
