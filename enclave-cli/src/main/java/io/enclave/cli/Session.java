package io.enclave.cli;

import java.io.PrintStream;
import java.util.Map;

/**
 * What one run of the CLI shares between its commands: the streams, the environment, the global
 * options, and the API client made from them on first use.
 */
final class Session implements AutoCloseable {
    final PrintStream out;
    final PrintStream err;
    private final Map<String, String> env;
    private final boolean stderrTerminal;

    private String url;
    private String token;
    private String fingerprint;
    private OutputFormat output = OutputFormat.table;
    private ApiClient api;

    Session(PrintStream out, PrintStream err, Map<String, String> env, boolean stderrTerminal) {
        this.out = out;
        this.err = err;
        this.env = env;
        this.stderrTerminal = stderrTerminal;
    }

    void url(String url) {
        this.url = url;
    }

    void token(String token) {
        this.token = token;
    }

    void fingerprint(String fingerprint) {
        this.fingerprint = fingerprint;
    }

    void output(OutputFormat output) {
        this.output = output;
    }

    ApiClient api() {
        if (api == null) api = new ApiClient(Config.resolve(url, token, fingerprint, env));
        return api;
    }

    Printer printer() {
        return new Printer(out, output);
    }

    ProgressReporter progress() {
        return new ProgressReporter(err, stderrTerminal);
    }

    @Override
    public void close() {
        if (api != null) api.close();
    }
}
