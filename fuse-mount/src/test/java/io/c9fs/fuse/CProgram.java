package io.c9fs.fuse;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assertions;

/** A running fuse-mmap process: one command line in, one answer line out, every wait bounded. */
final class CProgram implements AutoCloseable {
    private final Process process;
    private final OutputStream stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    CProgram(Path binary) throws IOException {
        process = new ProcessBuilder(binary.toString()).redirectErrorStream(true).start();
        stdin = process.getOutputStream();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                }
            } catch (IOException ignored) {
                // the process went away; pending answers time out
            }
        }, "fuse-mmap-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    long pid() {
        return process.pid();
    }

    Process process() {
        return process;
    }

    /** Sends a command without waiting for its answer. */
    void send(String command) throws IOException {
        stdin.write((command + "\n").getBytes(StandardCharsets.UTF_8));
        stdin.flush();
    }

    String answer(long timeoutSeconds) throws InterruptedException {
        String l = lines.poll(timeoutSeconds, TimeUnit.SECONDS);
        Assertions.assertNotNull(l, "fuse-mmap gave no answer within " + timeoutSeconds + " s");
        return l;
    }

    String cmd(String command) throws IOException, InterruptedException {
        send(command);
        return answer(10);
    }

    /** Runs a command that must answer OK. */
    void ok(String command) throws IOException, InterruptedException {
        Assertions.assertEquals("OK", cmd(command), command);
    }

    @Override
    public void close() {
        try {
            send("quit");
        } catch (IOException ignored) {
            // already gone
        }
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
