package io.enclave.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.function.Function;

/** Which columns a list of each kind of resource shows in table output, and how each cell is made. */
final class Views {
    /** A column and how to fill its cell from one resource. */
    record Field(Table.Column column, Function<JsonNode, String> cell) {}

    static final List<Field> VMS = List.of(
            text("ID", "id"),
            text("NAME", "name"),
            text("PHASE", "phase"),
            text("DESIRED", "desiredState"),
            number("VCPUS", n -> Json.text(n, "vcpus")),
            number("MEM", n -> Units.withUnit(n, "memoryMib", "MiB")),
            number("DISK", n -> Units.withUnit(n, "diskGib", "GiB")),
            text("HOST", "hostId"),
            new Field(new Table.Column("IP", false), n -> Json.text(n.path("nics").path(0), "ip")),
            new Field(new Table.Column("GUEST", false), n -> n.path("guestReady").asBoolean() ? "ready" : "-"));

    /** A VM's NICs, shown under {@code vm show}. */
    static final List<Field> NICS = List.of(
            text("NETWORK", "networkId"),
            text("MAC", "mac"),
            text("IP", "ip"));

    static final List<Field> NETWORKS = List.of(
            text("ID", "id"),
            text("NAME", "name"),
            text("TENANT", "tenantId"),
            text("CIDR", "cidr"),
            text("GATEWAY", "gateway"),
            number("MTU", n -> Json.text(n, "mtu")),
            time("CREATED", "createdAt"));

    /** A firewall's rules, shown under {@code firewall show}. */
    static final List<Field> RULES = List.of(
            text("ID", "id"),
            text("KIND", "kind"),
            text("PROTO", "protocol"),
            new Field(new Table.Column("PORTS", false), Views::ports),
            new Field(new Table.Column("SOURCE/DEST", false),
                    n -> Json.text(n, "sourceCidr") != null ? Json.text(n, "sourceCidr") : Json.text(n, "destinationCidr")),
            number("PUBLIC-PORT", n -> Json.text(n, "publicPort")),
            text("VM", "vmId"),
            number("TARGET-PORT", n -> Json.text(n, "targetPort")),
            text("PUBLIC-IP", "publicIp"),
            number("PACKETS", n -> Json.text(n, "packets")),
            number("BYTES", n -> n.hasNonNull("bytes") ? Units.bytes(n.get("bytes").asLong()) : null));

    static final List<Field> TENANTS = List.of(
            text("ID", "id"),
            text("NAME", "name"),
            number("VCPUS", n -> usedOfQuota(n, "vcpus", "")),
            number("MEM", n -> usedOfQuota(n, "memoryMib", "MiB")),
            number("DISK", n -> usedOfQuota(n, "diskGib", "GiB")),
            number("VMS", n -> usedOfQuota(n, "vms", "")),
            time("CREATED", "createdAt"));

    static final List<Field> TOKENS = List.of(
            text("ID", "id"),
            text("TENANT", "tenantId"),
            text("NAME", "name"),
            time("CREATED", "createdAt"));

    static final List<Field> OPERATIONS = List.of(
            text("ID", "id"),
            text("KIND", "kind"),
            text("TARGET", "targetId"),
            text("STATUS", "status"),
            number("PROGRESS", n -> Units.withUnit(n, "progress", "%")),
            time("CREATED", "createdAt"),
            new Field(new Table.Column("MESSAGE", false),
                    n -> Json.text(n, "error") != null ? Json.text(n, "error") : Json.text(n, "message")));

    static final List<Field> IMAGES = List.of(
            text("ID", "id"),
            text("NAME", "name"),
            text("FORMAT", "diskFormat"),
            number("SIZE", n -> n.hasNonNull("virtualSizeBytes") ? Units.bytes(n.get("virtualSizeBytes").asLong()) : null),
            new Field(new Table.Column("BOOT", false), n -> n.path("directKernelBoot").asBoolean() ? "kernel" : "firmware"),
            new Field(new Table.Column("AGENT", false), n -> n.path("guestAgent").asBoolean() ? "yes" : "no"),
            time("CREATED", "createdAt"));

    static final List<Field> HOSTS = List.of(
            text("ID", "id"),
            text("NAME", "name"),
            text("STATUS", "status"),
            text("MAINTENANCE", "maintenance"),
            text("UNDERLAY", "underlayAddress"),
            number("CPUS", n -> Json.text(n, "cpus")),
            number("MEM", n -> Units.withUnit(n, "memoryMib", "MiB")),
            text("ACCEL", "accelerator"),
            time("HEARTBEAT", "heartbeatAt"));

    private Views() {}

    static Table table(List<Field> fields, Iterable<JsonNode> items) {
        Table table = new Table(fields.stream().map(Field::column).toList());
        for (JsonNode item : items) table.row(fields.stream().map(f -> f.cell().apply(item)).toList());
        return table;
    }

    private static Field text(String header, String field) {
        return new Field(new Table.Column(header, false), n -> Json.text(n, field));
    }

    private static Field time(String header, String field) {
        return new Field(new Table.Column(header, false), n -> Units.time(Json.text(n, field)));
    }

    private static Field number(String header, Function<JsonNode, String> cell) {
        return new Field(new Table.Column(header, true), cell);
    }

    /** {@code 80}, {@code 8000-8099}, or null when the rule has no ports. */
    private static String ports(JsonNode rule) {
        String from = Json.text(rule, "portFrom");
        String to = Json.text(rule, "portTo");
        if (from == null) return to;
        return to == null || to.equals(from) ? from : from + "-" + to;
    }

    /** {@code used/quota} with a unit, such as {@code 2048/8192MiB}. */
    private static String usedOfQuota(JsonNode tenant, String field, String unit) {
        String quota = Json.text(tenant.path("quota"), field);
        String used = Json.text(tenant.path("usage"), field);
        if (quota == null) return null;
        return (used == null ? "?" : used) + "/" + quota + unit;
    }
}
