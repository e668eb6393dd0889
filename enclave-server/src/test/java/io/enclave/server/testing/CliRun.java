package io.enclave.server.testing;

import io.enclave.cli.EnclaveCli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Runs the enclave CLI in this JVM against a server, as a user would from a shell. */
public record CliRun(int exitCode, String stdout, String stderr) {

    public static CliRun of(TestApi api, String... args) {
        return withEnv(Map.of("ENCLAVE_URL", api.baseUrl() + "/v1", "ENCLAVE_TOKEN", api.token()), args);
    }

    /** With exactly these environment variables (ENCLAVE_URL, ENCLAVE_TOKEN, ENCLAVE_FINGERPRINT...). */
    public static CliRun withEnv(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = EnclaveCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), env);
        return new CliRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
