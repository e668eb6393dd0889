package io.enclave.agent.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.image.ImageFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Imports real qcow2 files made with qemu-img. */
class ImageLibraryTest {
    final ProcessCommandRunner runner = new ProcessCommandRunner();

    @Test
    void importsAQcow2AndFindsItAgain(@TempDir Path dir) {
        Path source = dir.resolve("user.qcow2");
        runner.runChecked("qemu-img", "create", "-q", "-f", "qcow2", source.toString(), "100M");
        ImageLibrary library = new ImageLibrary(dir.resolve("lib"), runner);
        ImageFiles imported = library.importDisk("user-image", source.toString(), null, null, null, false);
        assertThat(imported.virtualSizeBytes()).isEqualTo(100L << 20);
        assertThat(imported.boot().directKernelBoot()).isFalse();
        assertThat(Files.exists(Path.of(imported.boot().diskPath()))).isTrue();
        assertThat(library.scan()).extracting(ImageFiles::name).containsExactly("user-image");
        assertThatThrownBy(() -> library.importDisk("user-image", source.toString(), null, null, null, false))
                .isInstanceOf(EnclaveException.Conflict.class);
    }

    @Test
    void aRebuiltImageKeepsTheOldVersionForExistingOverlays(@TempDir Path dir) throws Exception {
        Path lib = dir.resolve("lib");
        Path imageDir = Files.createDirectories(lib.resolve("base"));
        runner.runChecked("qemu-img", "create", "-q", "-f", "qcow2", imageDir.resolve("disk.qcow2").toString(), "10M");
        Files.writeString(imageDir.resolve("manifest.json"), "{\"name\":\"base\",\"disk\":\"disk.qcow2\",\"version\":\"v1\"}");
        ImageLibrary library = new ImageLibrary(lib, runner);
        Path v1 = Path.of(library.scan().getFirst().boot().diskPath());
        assertThat(v1.toString()).contains("base@v1");

        // The image is rebuilt in place (new file, new version), as images/default/build.sh does.
        Path rebuilt = dir.resolve("new.qcow2");
        runner.runChecked("qemu-img", "create", "-q", "-f", "qcow2", rebuilt.toString(), "20M");
        Files.move(rebuilt, imageDir.resolve("disk.qcow2"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(imageDir.resolve("manifest.json"), "{\"name\":\"base\",\"disk\":\"disk.qcow2\",\"version\":\"v2\"}");
        ImageFiles v2 = library.scan().getFirst();
        assertThat(v2.boot().diskPath()).contains("base@v2");
        assertThat(v2.virtualSizeBytes()).isEqualTo(20L << 20);
        String oldInfo = runner.runChecked("qemu-img", "info", "--output=json", v1.toString()).stdout();
        assertThat(oldInfo).contains("\"virtual-size\": " + (10L << 20));
    }

    @Test
    void refusesMissingFilesBadNamesAndOverlaysAndLeavesNothing(@TempDir Path dir) {
        ImageLibrary library = new ImageLibrary(dir.resolve("lib"), runner);
        assertThatThrownBy(() -> library.importDisk("x", dir.resolve("nope.qcow2").toString(), null, null, null, false))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("path");
        Path base = dir.resolve("base.qcow2");
        Path overlay = dir.resolve("overlay.qcow2");
        runner.runChecked("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "10M");
        runner.runChecked("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.toString(), overlay.toString());
        assertThatThrownBy(() -> library.importDisk("ov", overlay.toString(), null, null, null, false))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("backing file");
        assertThatThrownBy(() -> library.importDisk("Bad Name", base.toString(), null, null, null, false))
                .isInstanceOf(EnclaveException.InvalidRequest.class).hasMessageContaining("name");
        assertThat(library.scan()).isEmpty();
    }
}
