package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code enclave vm …}: virtual machines. */
@Command(name = "vm", description = "Create, list, show, start, stop, reboot and delete VMs; console and exec.",
        subcommands = {VmCommands.Create.class, VmCommands.ListVms.class, VmCommands.Show.class,
                VmCommands.Start.class, VmCommands.Stop.class, VmCommands.Reboot.class, VmCommands.Delete.class,
                VmCommands.Console.class, VmCommands.Exec.class, VmCommands.Migrate.class})
final class VmCommands {
    private VmCommands() {}

    /** The Idempotency-Key option of the commands that start an operation. */
    static final class IdempotencyOption {
        @Option(names = "--idempotency-key", paramLabel = "KEY",
                description = "Repeating the request with the same key returns the first answer and changes nothing.")
        String key;
    }

    @Command(name = "create", description = "Create a VM (and start it unless --no-start).")
    static final class Create implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "NAME", description = "Lower-case DNS label.") String name;
        @Option(names = "--vcpus", required = true, paramLabel = "N") int vcpus;
        @Option(names = "--memory-mib", required = true, paramLabel = "N") long memoryMib;
        @Option(names = "--disk-gib", required = true, paramLabel = "N") long diskGib;
        @Option(names = "--image", required = true, paramLabel = "NAME") String image;
        @Option(names = "--no-start", description = "Create it stopped.") boolean noStart;
        @Option(names = "--tenant", paramLabel = "ID", description = "The tenant to create it in (required for admins).")
        String tenantId;
        @Option(names = "--network", paramLabel = "NET_ID",
                description = "Put a NIC on this network of the tenant (repeatable; NICs in the order given).")
        List<String> networks;
        @Option(names = "--ha", description = "Restart it on another host if its host dies (needs --storage shared).")
        boolean highlyAvailable;
        @Option(names = "--anti-affinity", paramLabel = "GROUP",
                description = "No two VMs of this group (of the tenant) share a host.")
        String antiAffinityGroup;
        @Option(names = "--storage", paramLabel = "local|shared",
                description = "Where the boot disk lives: the host's own storage (default) or storage several hosts reach.")
        String storage;
        @Option(names = "--boot-volume", paramLabel = "POOL",
                description = "Boot from a volume in this storage pool (created and deleted with the VM) instead of a per-VM disk.")
        String bootPool;
        @Option(names = "--boot-copies", paramLabel = "N",
                description = "Copies of the boot volume on distinct devices of the pool (1-3, default 1; with --boot-volume).")
        Integer bootCopies;
        @Mixin IdempotencyOption idempotency;
        @Mixin WaitOptions wait;

        Create(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", name);
            body.put("vcpus", vcpus);
            body.put("memoryMib", memoryMib);
            body.put("diskGib", diskGib);
            body.put("image", image);
            if (noStart) body.put("start", false);
            if (tenantId != null) body.put("tenantId", tenantId);
            if (networks != null && !networks.isEmpty()) body.put("networks", networks);
            if (highlyAvailable) body.put("highlyAvailable", true);
            if (antiAffinityGroup != null) body.put("antiAffinityGroup", antiAffinityGroup);
            if (storage != null) body.put("storage", storage);
            if (bootCopies != null && bootPool == null) {
                throw CliException.usage("--boot-copies needs --boot-volume POOL");
            }
            if (bootPool != null) {
                Map<String, Object> boot = new LinkedHashMap<>();
                boot.put("pool", bootPool);
                if (bootCopies != null) boot.put("copies", bootCopies);
                body.put("bootVolume", boot);
            }
            JsonNode accepted = session.api().post("/vms", body, idempotency.key);
            JsonNode operation = accepted.path("operation");
            JsonNode shown = accepted;
            if (!session.printer().json() && accepted.path("vm").isObject()) {
                ObjectNode vm = ((ObjectNode) accepted.get("vm")).deepCopy();
                vm.put("operation", Json.text(operation, "id") + " (" + Json.text(operation, "status") + ")");
                shown = vm;
            }
            return Follow.vmOperation(session, shown, operation, wait);
        }
    }

    @Command(name = "list", description = "List VMs, ordered by id.")
    static final class ListVms implements Callable<Integer> {
        private final Session session;

        @Option(names = "--limit", paramLabel = "N", description = "Page size (the API's default is 100).")
        Integer limit;
        @Option(names = "--after", paramLabel = "ID", description = "Start after this VM id (the previous page's next).")
        String after;
        @Option(names = "--all", description = "Follow the next cursor and list every page.") boolean all;

        ListVms(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            ApiClient api = session.api();
            JsonNode page = api.get("/vms", ApiClient.query("limit", limit, "after", after));
            if (all) {
                List<JsonNode> items = new ArrayList<>();
                page.path("items").forEach(items::add);
                while (page.hasNonNull("next")) {
                    String next = page.get("next").asText();
                    page = api.get("/vms", ApiClient.query("limit", limit, "after", next));
                    page.path("items").forEach(items::add);
                }
                ObjectNode merged = Json.MAPPER.createObjectNode();
                ArrayNode array = merged.putArray("items");
                array.addAll(items);
                merged.putNull("next");
                page = merged;
            }
            Printer printer = session.printer();
            printer.list(page, page.path("items"), Views.VMS);
            if (!printer.json() && page.hasNonNull("next")) {
                session.err.println("more VMs follow: use --all, or --after " + page.get("next").asText());
            }
            return 0;
        }
    }

    @Command(name = "show", description = "Show a VM, then its NICs (network, MAC, IP).")
    static final class Show implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get(ApiClient.path("vms", id)), "nics", Views.NICS);
            return 0;
        }
    }

    @Command(name = "migrate", description = "Move a VM to another host (admin): a running one live, a stopped one with --cold; the scheduler picks one unless --to.")
    static final class Migrate implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--to", paramLabel = "HOST_ID", description = "The destination host.") String hostId;
        @Option(names = "--no-copy-storage", description = "Refuse if the disk would have to be copied (it is not on shared storage the destination reaches).")
        boolean noCopy;
        @Option(names = "--cold", description = "Move a stopped VM (its disk and volumes copied, the guest not started).")
        boolean cold;
        @Mixin IdempotencyOption idempotency;
        @Mixin WaitOptions wait;

        Migrate(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            if (hostId != null) body.put("hostId", hostId);
            if (noCopy) body.put("copyStorage", false);
            if (cold) body.put("cold", true);
            JsonNode op = session.api().post(ApiClient.path("vms", id, "migrate"), body, idempotency.key);
            if (!wait.wait) {
                session.printer().show(op);
                return 0;
            }
            JsonNode done = wait.waiter(session).await(op);
            session.printer().show(done);
            return "succeeded".equals(Json.text(done, "status")) ? 0 : 1;
        }
    }

    @Command(name = "start", description = "Start a stopped VM.")
    static final class Start implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Mixin IdempotencyOption idempotency;
        @Mixin WaitOptions wait;

        Start(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            JsonNode op = session.api().post(ApiClient.path("vms", id, "start"), null, idempotency.key);
            return Follow.vmOperation(session, op, op, wait);
        }
    }

    @Command(name = "stop", description = "Stop a VM: ACPI power-down, then forced off after the timeout.")
    static final class Stop implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--timeout", paramLabel = "SECONDS",
                description = "Seconds the guest gets to power down before it is forced off (the API's default is 30).")
        Integer timeoutSeconds;
        @Mixin IdempotencyOption idempotency;
        @Mixin WaitOptions wait;

        Stop(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = timeoutSeconds == null ? null : Map.of("timeoutSeconds", timeoutSeconds);
            JsonNode op = session.api().post(ApiClient.path("vms", id, "stop"), body, idempotency.key);
            return Follow.vmOperation(session, op, op, wait);
        }
    }

    @Command(name = "reboot", description = "Reset a running VM.")
    static final class Reboot implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Mixin IdempotencyOption idempotency;
        @Mixin WaitOptions wait;

        Reboot(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            JsonNode op = session.api().post(ApiClient.path("vms", id, "reboot"), null, idempotency.key);
            return Follow.vmOperation(session, op, op, wait);
        }
    }

    @Command(name = "delete", description = "Delete a VM and everything of it on its host.")
    static final class Delete implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Mixin IdempotencyOption idempotency;
        @Mixin WaitOptions wait;

        Delete(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            JsonNode op = session.api().delete(ApiClient.path("vms", id), idempotency.key);
            return Follow.vmOperation(session, op, op, wait);
        }
    }

    @Command(name = "console", description = "Print the end of the VM's serial console output.")
    static final class Console implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;
        @Option(names = "--bytes", paramLabel = "N", description = "How many bytes from the end (the API's default is 65536).")
        Integer bytes;

        Console(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().raw(session.api().getBytes(ApiClient.path("vms", id, "console"),
                    ApiClient.query("bytes", bytes)));
            return 0;
        }
    }

    @Command(name = "exec", description = {"Run a command in the guest through its guest agent and wait for it.",
            "Its stdout and stderr are printed as such; the exit code is the command's (124 if it timed out).",
            "Put -- before the command when it has options: enclave vm exec ID -- ls -l /"})
    static final class Exec implements Callable<Integer> {
        static final int TIMED_OUT = 124;
        private static final int DEFAULT_TIMEOUT = 30;

        private final Session session;

        @Parameters(index = "0", paramLabel = "ID") String id;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "CMD", description = "The program and its arguments.")
        List<String> command;
        @Option(names = "--timeout", paramLabel = "SECONDS", description = "Limit for the command (the API's default is 30).")
        Integer timeoutSeconds;

        Exec(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("command", command);
            if (timeoutSeconds != null) body.put("timeoutSeconds", timeoutSeconds);
            int limit = timeoutSeconds == null ? DEFAULT_TIMEOUT : Math.max(timeoutSeconds, 0);
            JsonNode result = session.api().post(ApiClient.path("vms", id, "exec"), body,
                    Duration.ofSeconds(limit).plus(ApiClient.DEFAULT_TIMEOUT));
            boolean timedOut = result.path("timedOut").asBoolean();
            if (session.printer().json()) {
                session.printer().printJson(result);
            } else {
                byte[] stdout = bytes(result, "stdout");
                byte[] stderr = bytes(result, "stderr");
                session.out.write(stdout, 0, stdout.length);
                session.out.flush();
                session.err.write(stderr, 0, stderr.length);
                session.err.flush();
            }
            if (timedOut) {
                session.err.println("error: the command timed out in the guest");
                return TIMED_OUT;
            }
            return result.path("exitCode").asInt();
        }

        private static byte[] bytes(JsonNode result, String field) {
            String text = Json.text(result, field);
            return text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8);
        }
    }
}
