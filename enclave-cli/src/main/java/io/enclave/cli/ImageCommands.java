package io.enclave.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code enclave image …}: the images VMs are created from. */
@Command(name = "image", description = "List and import images.",
        subcommands = {ImageCommands.ListImages.class, ImageCommands.Import.class})
final class ImageCommands {
    private ImageCommands() {}

    @Command(name = "list", description = "Images VMs can be created from.")
    static final class ListImages implements Callable<Integer> {
        private final Session session;

        ListImages(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().list(session.api().get("/images"), Views.IMAGES);
            return 0;
        }
    }

    @Command(name = "import", description = {"Import a qcow2 or raw file as a new image (admin).",
            "The paths are read by the Enclave server on its host, not by this command."})
    static final class Import implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--path", required = true, paramLabel = "P", description = "The disk file on the server's host.")
        String path;
        @Option(names = "--kernel", paramLabel = "K", description = "A kernel for direct boot; without it the disk boots through the firmware.")
        String kernel;
        @Option(names = "--initrd", paramLabel = "I") String initrd;
        @Option(names = "--cmdline", paramLabel = "C", description = "Kernel command line.") String cmdline;
        @Option(names = "--guest-agent", description = "The image runs the Enclave guest agent (enables exec).")
        boolean guestAgent;

        Import(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", name);
            body.put("path", path);
            if (kernel != null) body.put("kernel", kernel);
            if (initrd != null) body.put("initrd", initrd);
            if (cmdline != null) body.put("cmdline", cmdline);
            if (guestAgent) body.put("guestAgent", true);
            session.printer().show(session.api().post("/images", body, (String) null));
            return 0;
        }
    }
}
