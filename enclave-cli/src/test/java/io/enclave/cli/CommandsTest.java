package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What each command sends to the API and how it prints the answer. */
class CommandsTest {
    private FakeApi api;

    @BeforeEach
    void start() throws IOException {
        api = new FakeApi();
    }

    @AfterEach
    void stop() {
        api.close();
    }

    private static JsonNode json(String text) throws IOException {
        return Json.read(text.getBytes(StandardCharsets.UTF_8));
    }

    private static String vm(String id, String name) {
        return """
                {"id":"%s","name":"%s","phase":"running","desiredState":"running","vcpus":1,"memoryMib":512,
                 "diskGib":1,"hostId":"h-1","guestReady":false}""".formatted(id, name);
    }

    @Test
    void vmCreateSendsTheSpecWithAuthAndIdempotencyKey() throws IOException {
        api.on("POST", "/vms", 202, "{\"vm\":" + vm("vm-1", "web")
                + ",\"operation\":{\"id\":\"op-7\",\"status\":\"pending\",\"progress\":0}}");

        Cli.Result r = Cli.run(api.env(), "vm", "create", "web", "--vcpus", "2", "--memory-mib", "1024",
                "--disk-gib", "10", "--image", "alpine", "--no-start", "--tenant", "t-1", "--idempotency-key", "abc");

        assertThat(r.exitCode()).isZero();
        FakeApi.Request sent = api.requests().getFirst();
        assertThat(json(sent.body())).isEqualTo(json("""
                {"name":"web","vcpus":2,"memoryMib":1024,"diskGib":10,"image":"alpine","start":false,"tenantId":"t-1"}"""));
        assertThat(sent.header("Authorization")).isEqualTo("Bearer secret-token");
        assertThat(sent.header("Idempotency-Key")).isEqualTo("abc");
        assertThat(sent.header("Content-Type")).isEqualTo("application/json");
        assertThat(r.out()).containsPattern("(?m)^id: +vm-1$").containsPattern("(?m)^operation: +op-7 \\(pending\\)$");
    }

    @Test
    void vmCreateLeavesOutOptionalFieldsAndPrintsTheWholeAnswerAsJson() throws IOException {
        String answer = "{\"vm\":" + vm("vm-1", "web") + ",\"operation\":{\"id\":\"op-7\",\"status\":\"pending\"}}";
        api.on("POST", "/vms", 202, answer);

        Cli.Result r = Cli.run(api.env(), "-o", "json", "vm", "create", "web", "--vcpus", "1", "--memory-mib", "64",
                "--disk-gib", "1", "--image", "alpine");

        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("""
                {"name":"web","vcpus":1,"memoryMib":64,"diskGib":1,"image":"alpine"}"""));
        assertThat(api.requests().getFirst().header("Idempotency-Key")).isNull();
        assertThat(json(r.out())).isEqualTo(json(answer));
    }

    @Test
    void vmCreateSendsPlacementWishes() throws IOException {
        api.on("POST", "/vms", 202, "{\"vm\":" + vm("vm-1", "db") + ",\"operation\":{\"id\":\"op-1\",\"status\":\"pending\"}}");

        Cli.Result r = Cli.run(api.env(), "vm", "create", "db", "--vcpus", "1", "--memory-mib", "256", "--disk-gib", "2",
                "--image", "alpine", "--anti-affinity", "db", "--storage", "shared", "--ha");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("""
                {"name":"db","vcpus":1,"memoryMib":256,"diskGib":2,"image":"alpine","highlyAvailable":true,
                 "antiAffinityGroup":"db","storage":"shared"}"""));
    }

    @Test
    void vmCreateAsksForABootVolume() throws IOException {
        api.on("POST", "/vms", 202, "{\"vm\":" + vm("vm-1", "db") + ",\"operation\":{\"id\":\"op-1\",\"status\":\"pending\"}}");

        Cli.Result r = Cli.run(api.env(), "vm", "create", "db", "--vcpus", "1", "--memory-mib", "256", "--disk-gib", "2",
                "--image", "alpine", "--boot-volume", "fast", "--boot-copies", "2");
        Cli.Result orphanCopies = Cli.run(api.env(), "vm", "create", "db", "--vcpus", "1", "--memory-mib", "256",
                "--disk-gib", "2", "--image", "alpine", "--boot-copies", "2");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("""
                {"name":"db","vcpus":1,"memoryMib":256,"diskGib":2,"image":"alpine","bootVolume":{"pool":"fast","copies":2}}"""));
        assertThat(orphanCopies.exitCode()).isEqualTo(2);
        assertThat(orphanCopies.err()).contains("--boot-copies needs --boot-volume");
        assertThat(api.requests()).as("nothing sent for the bad one").hasSize(1);
    }

    @Test
    void vmMigrateSendsTheDestinationAndTheCopyRefusal() throws IOException {
        api.on("POST", "/vms/vm-1/migrate", 202, "{\"id\":\"op-9\",\"kind\":\"migrate_vm\",\"status\":\"pending\"}");

        Cli.Result r = Cli.run(api.env(), "vm", "migrate", "vm-1", "--to", "host-b", "--no-copy-storage");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("{\"hostId\":\"host-b\",\"copyStorage\":false}"));
        assertThat(r.out()).contains("op-9").contains("migrate_vm");
    }

    @Test
    void vmMigrateColdAsksForAColdMove() throws IOException {
        api.on("POST", "/vms/vm-1/migrate", 202, "{\"id\":\"op-8\",\"kind\":\"migrate_vm\",\"status\":\"pending\"}");

        Cli.Result r = Cli.run(api.env(), "vm", "migrate", "vm-1", "--cold");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("{\"cold\":true}"));
    }

    @Test
    void hostMaintenanceOnAndOff() throws IOException {
        String host = "{\"id\":\"host-a\",\"name\":\"a\",\"status\":\"up\",\"maintenance\":\"draining\"}";
        api.on("POST", "/hosts/host-a/maintenance", 202, host)
                .on("DELETE", "/hosts/host-a/maintenance", 200, host.replace("draining", "none"));

        Cli.Result on = Cli.run(api.env(), "host", "maintenance", "host-a", "on");
        Cli.Result off = Cli.run(api.env(), "host", "maintenance", "host-a", "off");
        Cli.Result bad = Cli.run(api.env(), "host", "maintenance", "host-a", "sideways");

        assertThat(on.out()).containsPattern("(?m)^maintenance: +draining$");
        assertThat(off.out()).containsPattern("(?m)^maintenance: +none$");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err()).contains("on or off");
        assertThat(api.requests()).extracting(FakeApi.Request::method).containsExactly("POST", "DELETE");
    }

    @Test
    void vmListAllFollowsTheNextCursor() throws IOException {
        api.on("GET", "/vms", 200, "{\"items\":[" + vm("vm-1", "a") + "," + vm("vm-2", "b") + "],\"next\":\"vm-2\"}")
                .on("GET", "/vms", 200, "{\"items\":[" + vm("vm-3", "c") + "],\"next\":null}");

        Cli.Result r = Cli.run(api.env(), "vm", "list", "--all", "--limit", "2");

        assertThat(r.exitCode()).isZero();
        assertThat(api.requests()).extracting(FakeApi.Request::query).containsExactly("limit=2", "limit=2&after=vm-2");
        assertThat(r.out().lines()).hasSize(4);
        assertThat(r.out()).contains("vm-1", "vm-2", "vm-3");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void vmListAllInJsonIsOnePageWithEveryItem() throws IOException {
        api.on("GET", "/vms", 200, "{\"items\":[" + vm("vm-1", "a") + "],\"next\":\"vm-1\"}")
                .on("GET", "/vms", 200, "{\"items\":[" + vm("vm-2", "b") + "],\"next\":null}");

        Cli.Result r = Cli.run(api.env(), "vm", "list", "--all", "-o", "json");

        assertThat(json(r.out())).isEqualTo(json("{\"items\":[" + vm("vm-1", "a") + "," + vm("vm-2", "b") + "],\"next\":null}"));
    }

    @Test
    void vmListWithoutAllSaysWhenMoreFollow() {
        api.on("GET", "/vms", 200, "{\"items\":[" + vm("vm-1", "a") + "],\"next\":\"vm-1\"}");

        Cli.Result r = Cli.run(api.env(), "vm", "list", "--limit", "1");

        assertThat(api.requests()).hasSize(1);
        assertThat(r.out().lines()).hasSize(2);
        assertThat(r.err()).isEqualTo("more VMs follow: use --all, or --after vm-1\n");
    }

    @Test
    void idsArePercentEncodedInPaths() {
        Cli.Result r = Cli.run(api.env(), "vm", "show", "a b/c");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(api.requests().getFirst().path()).isEqualTo("/v1/vms/a%20b%2Fc");
    }

    @Test
    void quotaKeepsTheLimitsNotGiven() throws IOException {
        String tenant = "{\"id\":\"t-1\",\"name\":\"acme\",\"quota\":{\"vcpus\":8,\"memoryMib\":8192,\"diskGib\":100,\"vms\":4}}";
        api.on("GET", "/tenants/t-1", 200, tenant).on("PUT", "/tenants/t-1/quota", 200, tenant);

        Cli.Result r = Cli.run(api.env(), "tenant", "quota", "t-1", "--vcpus", "16", "--vms", "0");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests("PUT", "/tenants/t-1/quota").getFirst().body()))
                .isEqualTo(json("{\"vcpus\":16,\"memoryMib\":8192,\"diskGib\":100,\"vms\":0}"));
    }

    @Test
    void quotaWithEveryLimitDoesNotReadTheTenant() throws IOException {
        api.on("PUT", "/tenants/t-1/quota", 200, "{\"id\":\"t-1\"}");

        Cli.Result r = Cli.run(api.env(), "tenant", "quota", "t-1", "--vcpus", "1", "--memory-mib", "2",
                "--disk-gib", "3", "--vms", "4");

        assertThat(r.exitCode()).isZero();
        assertThat(api.requests()).hasSize(1);
        assertThat(json(api.requests().getFirst().body()))
                .isEqualTo(json("{\"vcpus\":1,\"memoryMib\":2,\"diskGib\":3,\"vms\":4}"));
    }

    @Test
    void tenantCreateSendsNameAndQuota() throws IOException {
        api.on("POST", "/tenants", 201, "{\"id\":\"t-1\",\"name\":\"acme\"}");

        Cli.Result r = Cli.run(api.env(), "tenant", "create", "acme", "--vcpus", "8", "--memory-mib", "8192",
                "--disk-gib", "100", "--vms", "4");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json(
                "{\"name\":\"acme\",\"quota\":{\"vcpus\":8,\"memoryMib\":8192,\"diskGib\":100,\"vms\":4}}"));
    }

    @Test
    void tokenCreatePrintsTheSecret() throws IOException {
        api.on("POST", "/tenants/t-1/tokens", 201,
                "{\"id\":\"tok-1\",\"tenantId\":\"t-1\",\"name\":\"ci\",\"token\":\"s3cr3t\"}");

        Cli.Result r = Cli.run(api.env(), "token", "create", "t-1", "ci");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("{\"name\":\"ci\"}"));
        assertThat(r.out()).containsPattern("(?m)^token: +s3cr3t$");
        assertThat(r.err()).contains("shown only this once");
    }

    @Test
    void execSplitsTheStreamsAndExitsWithTheGuestsCode() {
        api.on("POST", "/vms/vm-1/exec", 200,
                "{\"exitCode\":7,\"stdout\":\"out line\\n\",\"stderr\":\"err line\\n\",\"timedOut\":false}");

        Cli.Result r = Cli.run(api.env(), "vm", "exec", "vm-1", "--", "sh", "-c", "exit 7");

        assertThat(r.exitCode()).isEqualTo(7);
        assertThat(r.out()).isEqualTo("out line\n");
        assertThat(r.err()).isEqualTo("err line\n");
    }

    @Test
    void execWithAnOptionLikeArgumentBeforeDoubleDashIsAUsageErrorWithAHint() {
        Cli.Result r = Cli.run(api.env(), "vm", "exec", "vm-1", "sh", "-c", "exit 7");

        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("'-c'").contains("put -- before the guest command");
        assertThat(api.requests()).isEmpty();
    }

    @Test
    void execThatTimedOutExits124() {
        api.on("POST", "/vms/vm-1/exec", 200, "{\"exitCode\":-1,\"stdout\":\"\",\"stderr\":\"\",\"timedOut\":true}");

        Cli.Result r = Cli.run(api.env(), "vm", "exec", "vm-1", "--timeout", "1", "sleep", "5");

        assertThat(r.exitCode()).isEqualTo(124);
        assertThat(r.err()).isEqualTo("error: the command timed out in the guest\n");
    }

    @Test
    void consolePrintsTheRawTextAndPassesBytes() {
        api.onText("GET", "/vms/vm-1/console", 200, "text/plain; charset=utf-8", "login: \u00e9\r\nno newline at end");

        Cli.Result r = Cli.run(api.env(), "vm", "console", "vm-1", "--bytes", "100");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("login: \u00e9\r\nno newline at end");
        assertThat(api.requests().getFirst().query()).isEqualTo("bytes=100");
    }

    @Test
    void opListPassesTargetAndLimit() {
        api.on("GET", "/operations", 200, "[{\"id\":\"op-1\",\"kind\":\"start_vm\",\"targetId\":\"vm-1\","
                + "\"status\":\"failed\",\"progress\":40,\"message\":\"starting\",\"error\":\"no host\"}]");

        Cli.Result r = Cli.run(api.env(), "op", "list", "--target", "vm-1", "--limit", "5");

        assertThat(api.requests().getFirst().query()).isEqualTo("limit=5&targetId=vm-1");
        assertThat(r.out().lines().toList().get(1)).contains("op-1", "start_vm", "failed", "40%", "no host");
    }

    @Test
    void imageImportSendsOnlyTheGivenFields() throws IOException {
        api.on("POST", "/images", 201, "{\"id\":\"img-1\",\"name\":\"alpine\"}");

        Cli.Result r = Cli.run(api.env(), "image", "import", "alpine", "--path", "/srv/alpine.qcow2",
                "--kernel", "/srv/vmlinuz", "--guest-agent");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json(
                "{\"name\":\"alpine\",\"path\":\"/srv/alpine.qcow2\",\"kernel\":\"/srv/vmlinuz\",\"guestAgent\":true}"));
    }

    @Test
    void vmCreateSendsTheNetworksInTheOrderGiven() throws IOException {
        api.on("POST", "/vms", 202, "{\"vm\":" + vm("vm-1", "web")
                + ",\"operation\":{\"id\":\"op-7\",\"status\":\"pending\"}}");

        Cli.Result r = Cli.run(api.env(), "vm", "create", "web", "--vcpus", "1", "--memory-mib", "64",
                "--disk-gib", "1", "--image", "alpine", "--network", "net-2", "--network", "net-1");

        assertThat(r.exitCode()).isZero();
        assertThat(json(api.requests().getFirst().body())).isEqualTo(json("""
                {"name":"web","vcpus":1,"memoryMib":64,"diskGib":1,"image":"alpine","networks":["net-2","net-1"]}"""));
    }

    private static final String VM_WITH_NICS = """
            {"id":"vm-1","name":"web","phase":"running","nics":[
              {"networkId":"net-1","mac":"52:54:00:aa:bb:01","ip":"10.0.0.2"},
              {"networkId":"net-2","mac":"52:54:00:aa:bb:02","ip":"172.16.0.9"}],"message":null}""";

    @Test
    void vmShowPrintsTheNicsAsATable() {
        api.on("GET", "/vms/vm-1", 200, VM_WITH_NICS);

        Cli.Result r = Cli.run(api.env(), "vm", "show", "vm-1");

        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).isEqualTo("""
                id:      vm-1
                name:    web
                phase:   running
                message: -

                NETWORK  MAC                IP
                net-1    52:54:00:aa:bb:01  10.0.0.2
                net-2    52:54:00:aa:bb:02  172.16.0.9
                """);
    }

    @Test
    void vmShowInJsonKeepsTheNics() throws IOException {
        api.on("GET", "/vms/vm-1", 200, VM_WITH_NICS);

        Cli.Result r = Cli.run(api.env(), "-o", "json", "vm", "show", "vm-1");

        assertThat(json(r.out())).isEqualTo(json(VM_WITH_NICS));
    }

    @Test
    void vmShowWithoutNicsSaysSo() {
        api.on("GET", "/vms/vm-1", 200, "{\"id\":\"vm-1\",\"nics\":[]}");

        Cli.Result r = Cli.run(api.env(), "vm", "show", "vm-1");

        assertThat(r.out()).isEqualTo("id:   vm-1\nnics: -\n");
    }

    @Test
    void vmListShowsTheFirstNicsIp() {
        api.on("GET", "/vms", 200, "{\"items\":[" + VM_WITH_NICS + "," + vm("vm-2", "bare") + "],\"next\":null}");

        Cli.Result r = Cli.run(api.env(), "vm", "list");

        assertThat(r.exitCode()).isZero();
        java.util.List<String> lines = r.out().lines().toList();
        int ip = lines.get(0).indexOf("IP ");
        assertThat(ip).isPositive();
        assertThat(lines.get(1).substring(ip)).startsWith("10.0.0.2 ");
        assertThat(lines.get(2).substring(ip)).startsWith("- ");
        assertThat(r.out()).doesNotContain("172.16.0.9");
    }

    @Test
    void vmCreateWithAnUnknownNetworkPrintsTheField() {
        api.on("POST", "/vms", 400, """
                {"error":{"status":400,"code":"invalid_request","message":"the request is invalid",
                  "fields":[{"field":"networks[0]","reason":"no network 'net-9' in this tenant"}]}}""");

        Cli.Result r = Cli.run(api.env(), "vm", "create", "web", "--vcpus", "1", "--memory-mib", "64",
                "--disk-gib", "1", "--image", "alpine", "--network", "net-9");

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("error: the request is invalid\n  networks[0]: no network 'net-9' in this tenant\n");
    }
}
