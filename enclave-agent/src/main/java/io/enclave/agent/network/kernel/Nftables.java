package io.enclave.agent.network.kernel;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * nftables through libnftables (the library the {@code nft} command is made of) inside a network
 * namespace: the same scripts and the same atomic commit as {@code nft -f}, without starting a process.
 */
public final class Nftables {
    private static final Logger log = LoggerFactory.getLogger(Nftables.class);
    private static final int OUTPUT_JSON = 1 << 4;
    /** libnftables keeps some global state (parser and cache set-up); one call at a time. */
    private static final Object LOCK = new Object();

    interface Lib extends Library {
        Pointer nft_ctx_new(int flags);

        void nft_ctx_free(Pointer ctx);

        int nft_ctx_buffer_output(Pointer ctx);

        String nft_ctx_get_output_buffer(Pointer ctx);

        int nft_ctx_buffer_error(Pointer ctx);

        String nft_ctx_get_error_buffer(Pointer ctx);

        void nft_ctx_output_set_flags(Pointer ctx, int flags);

        int nft_run_cmd_from_filename(Pointer ctx, String filename);

        int nft_run_cmd_from_buffer(Pointer ctx, String buffer);
    }

    private static final class Holder {
        static final Lib LIB = Native.load("nftables", Lib.class);
    }

    /** Why an nft script or command was refused, with libnftables' own message. */
    public static final class NftException extends RuntimeException {
        NftException(String message) {
            super(message);
        }
    }

    private final NetNamespaces namespaces;

    public Nftables(NetNamespaces namespaces) {
        this.namespaces = namespaces;
    }

    /** {@code nft -f script} in namespace {@code ns}: all of it is committed or none. */
    public void applyFile(String ns, Path script) {
        long start = System.nanoTime();
        namespaces.inside(ns, () -> {
            Result r = run(false, ctx -> Holder.LIB.nft_run_cmd_from_filename(ctx, script.toString()));
            if (r.code() != 0) throw new NftException("nft -f " + script + " in namespace " + ns + " failed: " + r.error().strip());
            return null;
        });
        log.debug("nft -f {} in namespace {} ({} ms)", script, ns, (System.nanoTime() - start) / 1_000_000);
    }

    /** {@code nft -j COMMAND} in namespace {@code ns}: its JSON output, or empty if nft refused the command. */
    public Optional<String> json(String ns, String command) {
        return namespaces.inside(ns, () -> {
            Result r = run(true, ctx -> Holder.LIB.nft_run_cmd_from_buffer(ctx, command));
            if (r.code() != 0) {
                log.debug("nft -j {} in namespace {}: {}", command, ns, r.error().strip());
                return Optional.empty();
            }
            return Optional.of(r.output());
        });
    }

    private record Result(int code, String output, String error) {}

    private interface Call {
        int run(Pointer ctx);
    }

    private static Result run(boolean jsonOutput, Call call) {
        synchronized (LOCK) {
            Pointer ctx = Holder.LIB.nft_ctx_new(0);
            if (ctx == null) throw new IllegalStateException("nft_ctx_new failed");
            try {
                Holder.LIB.nft_ctx_buffer_output(ctx);
                Holder.LIB.nft_ctx_buffer_error(ctx);
                if (jsonOutput) Holder.LIB.nft_ctx_output_set_flags(ctx, OUTPUT_JSON);
                int code = call.run(ctx);
                String out = Holder.LIB.nft_ctx_get_output_buffer(ctx);
                String err = Holder.LIB.nft_ctx_get_error_buffer(ctx);
                return new Result(code, out == null ? "" : out, err == null ? "" : err);
            } finally {
                Holder.LIB.nft_ctx_free(ctx);
            }
        }
    }
}
