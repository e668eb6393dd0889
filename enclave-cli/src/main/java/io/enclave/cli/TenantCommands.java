package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code enclave tenant …}: tenants and their quotas (admin). */
@Command(name = "tenant", description = "Create, list, show and delete tenants; set their quota.",
        subcommands = {TenantCommands.Create.class, TenantCommands.ListTenants.class, TenantCommands.Show.class,
                TenantCommands.SetQuota.class, TenantCommands.Delete.class})
final class TenantCommands {
    private TenantCommands() {}

    @Command(name = "create", description = "Create a tenant with its quota (admin).")
    static final class Create implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "NAME", description = "Lower-case DNS label.")
        String name;

        @Option(names = "--vcpus", required = true, paramLabel = "N") int vcpus;
        @Option(names = "--memory-mib", required = true, paramLabel = "N") long memoryMib;
        @Option(names = "--disk-gib", required = true, paramLabel = "N") long diskGib;
        @Option(names = "--vms", required = true, paramLabel = "N") int vms;

        Create(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("name", name);
            body.put("quota", quota(vcpus, memoryMib, diskGib, vms));
            session.printer().show(session.api().post("/tenants", body, (String) null));
            return 0;
        }
    }

    @Command(name = "list", description = "List tenants with usage/quota (admin).")
    static final class ListTenants implements Callable<Integer> {
        private final Session session;

        ListTenants(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().list(session.api().get("/tenants"), Views.TENANTS);
            return 0;
        }
    }

    @Command(name = "show", description = "Show a tenant with its quota and usage.")
    static final class Show implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        Show(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.printer().show(session.api().get(ApiClient.path("tenants", id)));
            return 0;
        }
    }

    @Command(name = "quota", description = {"Replace a tenant's quota (admin).",
            "Limits not given keep their current value."})
    static final class SetQuota implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        @Option(names = "--vcpus", paramLabel = "N") Integer vcpus;
        @Option(names = "--memory-mib", paramLabel = "N") Long memoryMib;
        @Option(names = "--disk-gib", paramLabel = "N") Long diskGib;
        @Option(names = "--vms", paramLabel = "N") Integer vms;

        SetQuota(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            if (vcpus == null && memoryMib == null && diskGib == null && vms == null) {
                throw CliException.usage("give at least one of --vcpus, --memory-mib, --disk-gib, --vms");
            }
            ApiClient api = session.api();
            String path = ApiClient.path("tenants", id);
            Map<String, Object> body;
            if (vcpus != null && memoryMib != null && diskGib != null && vms != null) {
                body = quota(vcpus, memoryMib, diskGib, vms);
            } else {
                JsonNode current = api.get(path).path("quota");
                body = quota(vcpus != null ? vcpus : current.path("vcpus").asLong(),
                        memoryMib != null ? memoryMib : current.path("memoryMib").asLong(),
                        diskGib != null ? diskGib : current.path("diskGib").asLong(),
                        vms != null ? vms : current.path("vms").asLong());
            }
            session.printer().show(api.put(path + "/quota", body));
            return 0;
        }
    }

    @Command(name = "delete", description = "Delete a tenant that has no VMs (admin).")
    static final class Delete implements Callable<Integer> {
        private final Session session;

        @Parameters(paramLabel = "ID") String id;

        Delete(Session session) {
            this.session = session;
        }

        @Override
        public Integer call() {
            session.api().delete(ApiClient.path("tenants", id), null);
            session.printer().note("tenant " + id + " deleted");
            return 0;
        }
    }

    static Map<String, Object> quota(long vcpus, long memoryMib, long diskGib, long vms) {
        Map<String, Object> quota = new LinkedHashMap<>();
        quota.put("vcpus", vcpus);
        quota.put("memoryMib", memoryMib);
        quota.put("diskGib", diskGib);
        quota.put("vms", vms);
        return quota;
    }
}
