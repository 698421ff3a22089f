package org.qft4j.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.qft4j.llama.LlamaConfig;
import org.qft4j.llama.LlamaWeights;
import org.qft4j.train.CheckpointSaveException;
import org.qft4j.train.ClipMode;
import org.qft4j.train.EvalMetrics;
import org.qft4j.train.OptimizerKind;
import org.qft4j.train.SyntheticCorpus;
import org.qft4j.train.SyntheticTokenizer;
import org.qft4j.train.TrainConfig;
import org.qft4j.train.TrainListener;
import org.qft4j.train.Trainer;
import org.qft4j.train.TrainingData;

/** The trainer's save-failure policy over injected storage faults: STOP ends the run cleanly, CONTINUE retries. */
class TrainerSaveFailureTest {
    private static final LlamaConfig TINY = LlamaConfig.llama2c(32, 64, 1, 4, 2, 259 + SyntheticTokenizer.ALPHABET.length(), 32, true);
    private static final TrainingData.Split DATA = TrainingData.split(TrainingData.pack(
            SyntheticCorpus.documents(SyntheticCorpus.Domain.KITCHEN, 30, 3), SyntheticTokenizer.encoder(SyntheticTokenizer.create()), 32), 0.15, 3);

    @TempDir
    Path dir;

    /** outputDir is required with a checkpoint interval; the trainer saves into the store it is given instead. */
    private TrainConfig config(CheckpointStore.OnSaveFailure policy) {
        return TrainConfig.builder().optimizer(OptimizerKind.QFT_LION).learningRate(1e-3).steps(6).batchSize(2).seqLen(32)
                .fp32Below(256).clip(ClipMode.GLOBAL_NORM, 1.0).seed(5).checkpointInterval(2).keepLast(5).outputDir(dir.resolve("unused"))
                .onSaveFailure(policy).build();
    }

    /** The real file system, except that the save-th save (1-based) and only it goes through faulty. */
    private static Storage failingSave(int save, Storage faulty) {
        return new Storage() {
            int creates;
            boolean failing;

            @Override
            public SeekableByteChannel create(Path file) throws IOException {
                failing = ++creates == save;
                return (failing ? faulty : FILES).create(file);
            }

            @Override
            public void force(SeekableByteChannel channel) throws IOException {
                (failing ? faulty : FILES).force(channel);
            }

            @Override
            public void moveAtomic(Path from, Path to) throws IOException {
                (failing ? faulty : FILES).moveAtomic(from, to);
            }

            @Override
            public void syncDirectory(Path d) throws IOException {
                (failing ? faulty : FILES).syncDirectory(d);
            }
        };
    }

    /** What the listeners were told, in order. */
    private static final class Events implements TrainListener {
        final List<String> seen = new ArrayList<>();

        @Override
        public void checkpointSaved(long step, Path file) {
            seen.add("saved " + step);
        }

        @Override
        public void checkpointFailed(long step, Path file, CheckpointException cause, boolean stopping) {
            assertTrue(cause.getMessage().contains(file.toString()), cause.getMessage());
            seen.add("failed " + step + (stopping ? " stopping" : " continuing"));
        }

        @Override
        public void finished(EvalMetrics before, EvalMetrics after) {
            seen.add("finished");
        }
    }

    private List<String> files(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void stopEndsTheRunWithTheStepsCauseAndTheTrainerClosed() throws Exception {
        for (Storage faulty : List.of(FaultyStorage.diskFullAfter(1000), FaultyStorage.failing(FaultyStorage.Stage.FORCE),
                FaultyStorage.failing(FaultyStorage.Stage.MOVE))) {
            Path ckpt = Files.createTempDirectory(dir, "stop");
            CheckpointStore store = CheckpointStore.open(ckpt, failingSave(2, faulty));
            Events events = new Events();
            Trainer t = new Trainer(config(CheckpointStore.OnSaveFailure.STOP), LlamaWeights.random(TINY, 9, 0.05f), DATA);
            CheckpointSchema schema = t.schema();
            t.checkpointStore(store).addListener(events);
            CheckpointSaveException e = assertThrows(CheckpointSaveException.class, t::run);
            assertEquals(4, e.step());
            assertEquals(store.fileFor(4), e.file());
            assertTrue(e.getMessage().contains("training stopped after step 4") && e.getMessage().contains(store.fileFor(4).toString())
                    && e.getMessage().contains("the previous checkpoint (step 2) is intact"), e.getMessage());
            assertTrue(e.getMessage().contains("No space left on device") || e.getMessage().contains("fsync") || e.getMessage().contains("rename"), e.getMessage());
            assertEquals(List.of("saved 2", "failed 4 stopping"), events.seen);
            assertEquals(List.of("ckpt-000000000002.safetensors"), files(ckpt)); // no partial file of step 4
            assertEquals(2, store.latestValid(schema).orElseThrow().step());
            assertThrows(IllegalStateException.class, t::run); // closed by the failure
            t.close(); // and closing again is harmless
        }
    }

    @Test
    void continueWarnsAndSavesAtTheNextInterval() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir, failingSave(2, FaultyStorage.diskFullAfter(1000)));
        Events events = new Events();
        try (Trainer t = new Trainer(config(CheckpointStore.OnSaveFailure.CONTINUE), LlamaWeights.random(TINY, 9, 0.05f), DATA)) {
            t.checkpointStore(store).addListener(events);
            t.run();
            assertEquals(6, t.stepsDone());
            assertEquals(6, store.latestValid(t.schema()).orElseThrow().step());
        }
        assertEquals(List.of("saved 2", "failed 4 continuing", "saved 6", "finished"), events.seen);
        assertEquals(List.of("ckpt-000000000002.safetensors", "ckpt-000000000006.safetensors"), files(dir));
    }

    /** A caller's store whose own policy is STOP: the trainer's config still decides (CONTINUE here). */
    @Test
    void theConfigDecidesWhateverTheStoresPolicy() throws Exception {
        CheckpointStore store = CheckpointStore.open(dir, failingSave(1, FaultyStorage.failing(FaultyStorage.Stage.MOVE)))
                .onSaveFailure(CheckpointStore.OnSaveFailure.STOP);
        Events events = new Events();
        try (Trainer t = new Trainer(config(CheckpointStore.OnSaveFailure.CONTINUE), LlamaWeights.random(TINY, 9, 0.05f), DATA)) {
            t.checkpointStore(store).addListener(events);
            t.run();
        }
        assertEquals(List.of("failed 2 continuing", "saved 4", "saved 6", "finished"), events.seen);
        assertFalse(Files.exists(store.fileFor(2)));
    }
}
