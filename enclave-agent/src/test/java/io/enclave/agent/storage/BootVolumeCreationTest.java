package io.enclave.agent.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.storage.CopyState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link QemuStorageDriver#createBootVolume} on real ext4 loop devices (prefix {@code ebv}) with qemu-img: every
 * copy an overlay of the base image, nothing left on failure, nothing redone when the copies are there.
 */
class BootVolumeCreationTest {
    static final long SIZE = 256L << 20;

    final ProcessCommandRunner runner = new ProcessCommandRunner();
    final QemuStorageDriver driver = new QemuStorageDriver(runner);
    LoopDevices loops;
    Path base;
    VolumeLayout layout;

    @BeforeEach
    void setUp() throws Exception {
        loops = new LoopDevices(runner, "ebv");
        List<CopyLocation> copies = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            LoopDevices.Dev dev = loops.add("d" + i, 64);
            driver.registerDevice(dev.id(), dev.mount());
            copies.add(new CopyLocation(i, dev.id(), dev.mount(), 0, CopyState.IN_SYNC));
        }
        layout = new VolumeLayout("vol-boot0", SIZE, copies);
        base = loops.root.resolve("base.qcow2");
        runner.runChecked(List.of("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "64M"), Duration.ofSeconds(20));
        runner.runChecked(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", base.toString()),
                Duration.ofSeconds(20));
    }

    @AfterEach
    void cleanUp() {
        if (loops != null) loops.close();
    }

    @Test
    void everyCopyIsAnOverlayOfTheBaseImageOfTheVolumesSize() throws Exception {
        assertThat(driver.createBootVolume(layout, base, "qcow2")).isTrue();
        for (CopyLocation copy : layout.copies()) {
            Path file = copy.file(layout.volumeId());
            JsonNode info = new ObjectMapper().readTree(runner.runChecked(List.of("qemu-img", "info", "--output=json",
                    file.toString()), Duration.ofSeconds(20)).stdout());
            assertThat(info.path("virtual-size").asLong()).isEqualTo(SIZE);
            assertThat(info.path("backing-filename").asText()).isEqualTo(base.toString());
            assertThat(info.path("backing-filename-format").asText()).isEqualTo("qcow2");
            String read = runner.run(List.of("qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 64k", file.toString()),
                    Duration.ofSeconds(20)).stdout();
            QemuStorageDriverTest.assertPatternOk(read);
        }
        assertThat(filesIn(0)).containsExactly(layout.copies().get(0).file(layout.volumeId()));
        assertThat(filesIn(1)).containsExactly(layout.copies().get(1).file(layout.volumeId()));
    }

    @Test
    void creatingAgainChangesNothingAndAMissingCopyIsNotRecreatedEmpty() throws Exception {
        driver.createBootVolume(layout, base, "qcow2");
        Path first = layout.copies().getFirst().file(layout.volumeId());
        runner.runChecked(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 64k", first.toString()),
                Duration.ofSeconds(20));
        var modified = Files.getLastModifiedTime(first);
        assertThat(driver.createBootVolume(layout, base, "qcow2")).isFalse();
        assertThat(Files.getLastModifiedTime(first)).isEqualTo(modified);
        QemuStorageDriverTest.assertPatternOk(runner.run(List.of("qemu-io", "-f", "qcow2", "-c", "read -P 0x77 0 64k",
                first.toString()), Duration.ofSeconds(20)).stdout());

        Files.delete(layout.copies().get(1).file(layout.volumeId()));
        assertThatThrownBy(() -> driver.createBootVolume(layout, base, "qcow2"))
                .isInstanceOf(EnclaveException.Conflict.class).hasMessageContaining("vol-boot0").hasMessageContaining("resync");
        assertThat(layout.copies().get(1).file(layout.volumeId())).doesNotExist();
    }

    @Test
    void aFailedCreateLeavesNoCopy() throws Exception {
        Path missing = loops.root.resolve("no-such-base.qcow2");
        assertThatThrownBy(() -> driver.createBootVolume(layout, missing, "qcow2")).hasMessageContaining("no-such-base");
        assertThat(filesIn(0)).isEmpty();
        assertThat(filesIn(1)).isEmpty();

        // The second copy cannot be made (its temporary name is taken by a directory): the first one goes too.
        Path second = layout.copies().get(1).file(layout.volumeId());
        Path blocker = Files.createDirectories(second.resolveSibling(second.getFileName() + ".partial").resolve("x"));
        assertThatThrownBy(() -> driver.createBootVolume(layout, base, "qcow2")).hasMessageContaining("vol-boot0");
        assertThat(filesIn(0)).isEmpty();
        assertThat(filesIn(1)).containsExactly(blocker.getParent());
    }

    /** What copy {@code index}'s device holds in its volume directory. */
    private List<Path> filesIn(int index) throws Exception {
        Path dir = layout.copies().get(index).deviceDir().resolve(CopyLocation.VOLUMES_DIR);
        try (Stream<Path> list = Files.list(dir)) {
            return list.toList();
        }
    }
}
