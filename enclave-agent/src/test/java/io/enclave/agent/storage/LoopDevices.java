package io.enclave.agent.storage;

import io.enclave.agent.exec.CommandRunner;
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
 * Real storage devices for tests: image files on loop devices, each with its own ext4 filesystem mounted
 * under {@code /tmp/ent4-<random>/} (or another prefix). {@link #close()} unmounts, detaches and deletes everything, also
 * after a failed test.
 */
final class LoopDevices implements AutoCloseable {
    record Dev(String id, Path image, String loop, Path mount) {}

    private final CommandRunner runner;
    final Path root;
    private final List<Dev> devices = new ArrayList<>();

    LoopDevices(CommandRunner runner) throws IOException {
        this(runner, "ent4");
    }

    /** Under {@code /tmp/<prefix>-<random>/}. */
    LoopDevices(CommandRunner runner, String prefix) throws IOException {
        this.runner = runner;
        this.root = Files.createDirectories(Path.of("/tmp", prefix + "-" + UUID.randomUUID().toString().substring(0, 8)));
    }

    /** A new ext4 device of {@code sizeMib} mounted at {@code root/<name>}. */
    Dev add(String name, int sizeMib) throws IOException {
        Path image = root.resolve(name + ".img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength((long) sizeMib << 20);
        }
        String loop = runner.runChecked(List.of("losetup", "--find", "--show", image.toString()), Duration.ofSeconds(20))
                .stdout().strip();
        Path mount = Files.createDirectories(root.resolve(name));
        Dev dev = new Dev(name, image, loop, mount);
        devices.add(dev);
        runner.runChecked(List.of("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", loop),
                Duration.ofSeconds(30));
        runner.runChecked(List.of("mount", "-t", "ext4", loop, mount.toString()), Duration.ofSeconds(20));
        return dev;
    }

    /**
     * Breaks the device under its mounted filesystem: the backing file is cut to nothing and the loop
     * device told its new size, so from then on the kernel fails every request to the block device with
     * EIO, as a dead disk's would. Files already open (QEMU's) see real I/O errors; only what the page
     * cache still holds reads without error.
     */
    void fail(Dev dev) throws IOException {
        // Writes in flight through the loop device can regrow the file between the truncate and the
        // capacity update, so repeat until the kernel says the device has no sectors left.
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
            // left for the next run's eyes; nothing mounted remains
        }
    }
}
