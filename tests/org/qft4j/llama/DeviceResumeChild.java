package org.qft4j.llama;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.qft4j.Device;
import org.qft4j.checkpoint.CheckpointStore;
import org.qft4j.llama.device.DeviceQftTrainer;

/**
 * The fresh JVM of {@link DeviceQftTrainerTest#assertResumesBitExactly}: builds the test's trainer on DEVICE, resumes
 * the latest checkpoint in DIR (step 5), trains to step 10 and prints one line per loss (its IEEE bits) and one per
 * parameter tensor (the SHA-256 of its bytes). Usage: DeviceResumeChild DEVICE DIR
 */
public final class DeviceResumeChild {
    public static void main(String[] args) throws Exception {
        Device device = Device.parse(args[0]);
        int[][] b = DeviceQftTrainerTest.repeating();
        try (DeviceQftTrainer t = new DeviceQftTrainer(DeviceQftTrainerTest.resumeWeights(), DeviceQftTrainerTest.resumeConfig(device))) {
            t.resume(CheckpointStore.open(Path.of(args[1])).latestValid(t.schema()).orElseThrow());
            if (t.stepsDone() != 5) throw new IllegalStateException("resumed at step " + t.stepsDone() + ", not 5");
            for (int s = 6; s <= 10; s++) System.out.println(lossLine(s, t.step(b[0], b[1], 2, 16).loss()));
            for (byte[] tensor : DeviceQftTrainerTest.state(t.model())) System.out.println(stateLine(tensor));
        }
        System.out.flush();
    }

    static String lossLine(int step, float loss) {
        return String.format(Locale.ROOT, "loss %d %08x", step, Float.floatToRawIntBits(loss));
    }

    static String stateLine(byte[] tensor) throws Exception {
        return "tensor " + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(tensor));
    }

    /** Runs the child on this JVM's runtime and class path; returns its output lines. */
    static List<String> run(Device device, Path dir) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--enable-native-access=ALL-UNNAMED"));
        // The qft4j settings of this JVM (e.g. qft4j.cuda.library of the emulated-GPU run) hold for the child too.
        for (String name : System.getProperties().stringPropertyNames())
            if (name.startsWith("qft4j.")) cmd.add("-D" + name + "=" + System.getProperty(name));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), DeviceResumeChild.class.getName(), device.toString(), dir.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process child = pb.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = in.readLine()) != null; ) lines.add(l);
        }
        if (!child.waitFor(120, TimeUnit.SECONDS)) throw new IllegalStateException("the resumed child did not finish");
        if (child.exitValue() != 0) throw new IllegalStateException("the resumed child exited with " + child.exitValue());
        return lines;
    }
}
