package io.enclave.server.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The images tests boot: the project's default guest image, built (or found cached) by its own script. */
public final class GuestImages {
    public static final Path CACHE = Path.of(System.getenv().getOrDefault("ENCLAVE_IMAGES_DIR", "/var/cache/enclave/images"));
    public static final Path DEFAULT = CACHE.resolve("default");

    private GuestImages() {}

    /** Builds the default image unless the cached one is current (the script decides). */
    public static synchronized Path ensureDefault() {
        Path script = repoRoot().resolve("images/default/build.sh");
        try {
            Process p = new ProcessBuilder(List.of("bash", script.toString(), DEFAULT.toString()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
            if (!p.waitFor(20, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException("default image build failed (" + script + ")");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + script, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        if (!Files.exists(DEFAULT.resolve("manifest.json"))) throw new IllegalStateException("no manifest in " + DEFAULT);
        return DEFAULT;
    }

    public static final Path FIREWALL = Path.of(System.getenv().getOrDefault("ENCLAVE_FIREWALL_IMAGE",
            "/var/cache/enclave/appliances/firewall"));

    /** Builds the VM-appliance firewall image unless the cached one is current. */
    public static synchronized Path ensureFirewall() {
        run(repoRoot().resolve("images/firewall/build.sh"), FIREWALL);
        return FIREWALL;
    }

    private static void run(Path script, Path out) {
        try {
            Process p = new ProcessBuilder(List.of("bash", script.toString(), out.toString()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.INHERIT).start();
            if (!p.waitFor(20, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException("image build failed (" + script + ")");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + script, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static String defaultImageName() {
        try {
            return TestApi.JSON.readTree(DEFAULT.resolve("manifest.json").toFile()).path("name").asText();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static Path repoRoot() {
        String root = System.getProperty("enclave.repo.root");
        Path p = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
        if (!Files.exists(p.resolve("images/default/build.sh"))) p = Path.of("").toAbsolutePath();
        return p;
    }
}
