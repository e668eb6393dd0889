package io.enclave.agent.image;

import io.enclave.agent.fs.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.CommandRunner;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.BootImage;
import io.enclave.core.image.ImageFiles;
import io.enclave.core.image.ImageProvider;
import io.enclave.core.validation.Validator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The images a host can boot VMs from: one directory per image with its files and a manifest.json.
 * The default image is built by {@code images/default/build.sh}; others are imported from qcow2 or
 * raw files.
 */
public final class ImageLibrary implements ImageProvider {
    private static final Logger log = LoggerFactory.getLogger(ImageLibrary.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final CommandRunner runner;

    public ImageLibrary(Path dir, CommandRunner runner) {
        this.dir = dir;
        this.runner = runner;
    }

    public Path dir() {
        return dir;
    }

    /** Every image directory with a readable manifest. */
    @Override
    public List<ImageFiles> scan() {
        List<ImageFiles> entries = new ArrayList<>();
        if (!Files.isDirectory(dir)) return entries;
        try (Stream<Path> dirs = Files.list(dir)) {
            for (Path imageDir : dirs.filter(Files::isDirectory)
                    .filter(d -> !d.getFileName().toString().startsWith(".")).sorted().toList()) {
                Path manifestFile = imageDir.resolve("manifest.json");
                if (!Files.exists(manifestFile)) continue;
                ImageManifest m = JSON.readValue(manifestFile.toFile(), ImageManifest.class);
                entries.add(toImageFiles(imageDir, m));
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read image library " + dir + ": " + e.getMessage(), e);
        }
        return entries;
    }

    /**
     * Copies a qcow2 or raw file into the library as a new image that boots through the firmware (or
     * through the given kernel). The source is checked with qemu-img first; nothing is left on failure.
     */
    @Override
    public ImageFiles importDisk(String name, String path, String kernelPath, String initrdPath, String cmdline,
            boolean guestAgent) {
        Path source = path == null ? null : Path.of(path);
        Path kernel = kernelPath == null ? null : Path.of(kernelPath);
        Path initrd = initrdPath == null ? null : Path.of(initrdPath);
        Validator v = new Validator().dnsLabel(name, "name");
        if (v.present(path, "path")) v.require(Files.isRegularFile(source), "path", "no such file on the host: " + source);
        v.require(kernel == null || Files.isRegularFile(kernel), "kernel", "no such file on the host: " + kernel);
        v.require(initrd == null || Files.isRegularFile(initrd), "initrd", "no such file on the host: " + initrd);
        v.throwIfInvalid();
        Path target = dir.resolve(name);
        if (Files.exists(target)) throw new EnclaveException.Conflict("an image named '" + name + "' already exists");
        JsonNode info = inspect(source);
        String format = info.path("format").asText();
        if (!format.equals("qcow2") && !format.equals("raw")) {
            throw new EnclaveException.InvalidRequest("path", "must be a qcow2 or raw image, qemu-img says '" + format + "'");
        }
        if (info.has("backing-filename")) {
            throw new EnclaveException.InvalidRequest("path", "must be a standalone image, it has a backing file "
                    + info.path("backing-filename").asText());
        }
        Path staging = dir.resolve("." + name + ".importing");
        try {
            FileTrees.delete(staging);
            Files.createDirectories(staging);
            runner.runChecked(List.of("qemu-img", "convert", "-q", "-f", format, "-O", "qcow2", source.toString(),
                    staging.resolve("disk.qcow2").toString()), Duration.ofMinutes(30));
            String kernelName = null;
            String initrdName = null;
            if (kernel != null) {
                Files.copy(kernel, staging.resolve("vmlinuz"));
                kernelName = "vmlinuz";
            }
            if (initrd != null) {
                Files.copy(initrd, staging.resolve("initrd.img"));
                initrdName = "initrd.img";
            }
            ImageManifest manifest = new ImageManifest(name, "disk.qcow2", "qcow2", kernelName, initrdName, cmdline,
                    guestAgent, "imported");
            JSON.writerWithDefaultPrettyPrinter().writeValue(staging.resolve("manifest.json").toFile(), manifest);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            log.info("image {} imported from {} ({})", name, source, format);
            return toImageFiles(target, manifest);
        } catch (IOException e) {
            throw new IllegalStateException("cannot import image " + name + ": " + e.getMessage(), e);
        } finally {
            FileTrees.delete(staging);
        }
    }

    /**
     * Pins the image's files under .versions/NAME@VERSION (hard links, so free) and answers paths there:
     * a rebuilt image replaces its files, and VMs whose disks are overlays of the old base must keep it.
     */
    private ImageFiles toImageFiles(Path imageDir, ImageManifest m) {
        Path pinned = pin(imageDir, m);
        Path disk = pinned.resolve(m.disk());
        String format = m.diskFormat() == null ? "qcow2" : m.diskFormat();
        BootImage boot = new BootImage(disk.toString(), format,
                m.kernel() == null ? null : pinned.resolve(m.kernel()).toString(),
                m.initrd() == null ? null : pinned.resolve(m.initrd()).toString(), m.cmdline(), m.guestAgent());
        long size = inspect(disk).path("virtual-size").asLong();
        return new ImageFiles(m.name(), boot, size);
    }

    private Path pin(Path imageDir, ImageManifest m) {
        String version = m.version() == null ? "unversioned" : m.version();
        Path pinned = dir.resolve(".versions").resolve(m.name() + "@" + version);
        if (Files.isDirectory(pinned)) return pinned;
        Path staging = dir.resolve(".versions").resolve("." + m.name() + "@" + version + ".partial");
        try {
            FileTrees.delete(staging);
            Files.createDirectories(staging);
            for (String file : new String[] {m.disk(), m.kernel(), m.initrd()}) {
                if (file == null) continue;
                Path source = imageDir.resolve(file);
                try {
                    Files.createLink(staging.resolve(file), source);
                } catch (IOException | UnsupportedOperationException crossDevice) {
                    Files.copy(source, staging.resolve(file));
                }
            }
            Files.move(staging, pinned, StandardCopyOption.ATOMIC_MOVE);
            log.info("image {} version {} pinned at {}", m.name(), version, pinned);
            return pinned;
        } catch (IOException e) {
            throw new IllegalStateException("cannot pin image " + m.name() + " version " + version + ": " + e.getMessage(), e);
        }
    }

    private JsonNode inspect(Path file) {
        CommandResult result = runner.run(List.of("qemu-img", "info", "-U", "--output=json", file.toString()),
                Duration.ofSeconds(30));
        if (!result.ok()) {
            throw new EnclaveException.InvalidRequest("path", "qemu-img cannot read it: " + result.stderr().strip());
        }
        try {
            return JSON.readTree(result.stdout());
        } catch (IOException e) {
            throw new IllegalStateException("qemu-img info gave bad JSON for " + file, e);
        }
    }

}
