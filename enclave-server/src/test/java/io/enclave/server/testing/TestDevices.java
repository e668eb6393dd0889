package io.enclave.server.testing;

import io.enclave.agent.exec.CommandRunner;
import io.enclave.agent.exec.ProcessCommandRunner;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Real storage devices for API and guest tests: sparse image files on loop devices, each with its own ext4
 * filesystem mounted under {@code /tmp/<prefix>-<random>/<prefix>-<name>} (prefix {@code ent6} unless given).
 * {@link #close()} unmounts (lazily if busy), detaches and deletes everything, also after a failed test.
 */
public final class TestDevices implements AutoCloseable {
    public record Dev(String name, Path image, String loop, Path mount) {}

    private final CommandRunner runner = new ProcessCommandRunner();
    public final Path root;
    private final List<Dev> devices = new ArrayList<>();
    private final String prefix;

    public TestDevices() throws IOException {
        this("ent6");
    }

    public TestDevices(String prefix) throws IOException {
        this.prefix = prefix;
        this.root = Files.createDirectories(Path.of("/tmp", prefix + "-" + UUID.randomUUID().toString().substring(0, 8)));
    }

    /** A new ext4 device of {@code sizeMib} (sparse: only the filesystem's metadata is written). */
    public Dev add(String name, int sizeMib) throws IOException {
        Path image = root.resolve(prefix + "-" + name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength((long) sizeMib << 20);
        }
        String loop = runner.runChecked(List.of("losetup", "--find", "--show", image.toString()), Duration.ofSeconds(20))
                .stdout().strip();
        Path mount = Files.createDirectories(root.resolve(prefix + "-" + name));
        Dev dev = new Dev(name, image, loop, mount);
        devices.add(dev);
        runner.runChecked(List.of("mkfs.ext4", "-q", "-F", "-m", "0", "-N", "256",
                "-E", "lazy_itable_init=0,lazy_journal_init=0", loop), Duration.ofSeconds(60));
        runner.runChecked(List.of("mount", "-t", "ext4", loop, mount.toString()), Duration.ofSeconds(20));
        return dev;
    }

    /** Breaks the device under its filesystem: every later request to it fails with EIO, as a dead disk's would. */
    public void fail(Dev dev) throws IOException {
        Path size = Path.of("/sys/block", Path.of(dev.loop()).getFileName().toString(), "size");
        for (int attempt = 0; attempt < 20; attempt++) {
            try (RandomAccessFile f = new RandomAccessFile(dev.image().toFile(), "rw")) {
                f.setLength(0);
            }
            runner.runChecked(List.of("losetup", "--set-capacity", dev.loop()), Duration.ofSeconds(20));
            if (Files.readString(size).strip().equals("0")) return;
        }
        throw new IllegalStateException(dev.loop() + " still has sectors after 20 attempts to fail it");
    }

    @Override
    public void close() {
        for (Dev dev : devices.reversed()) {
            if (!runner.run(List.of("umount", dev.mount().toString()), Duration.ofSeconds(20)).ok()) {
                runner.run(List.of("umount", "-l", dev.mount().toString()), Duration.ofSeconds(20));
            }
            runner.run(List.of("losetup", "-d", dev.loop()), Duration.ofSeconds(20));
        }
        devices.clear();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // nothing mounted remains; the directory is left for the next run's eyes
        }
    }
}
