package io.enclave.agent.storage;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A volume's QEMU block graph: the {@code blockdev-add} arguments of every node, children first, and the
 * node a guest device uses. The same maps serve QMP hot-plug and the {@code -blockdev} options of a boot
 * disk, so a volume looks the same to QEMU either way.
 *
 * <p>One copy: {@code file → qcow2}. Two or three copies: one {@code file → qcow2} per in-sync copy under a
 * {@code quorum} node named after the volume. Vote threshold:
 * <ul>
 *   <li>3 copies: 2 of 3 must agree. A read that one child fails or answers differently still returns the
 *   majority's data, and {@code rewrite-corrupted} writes it back over the odd child. A write succeeds
 *   when 2 children took it.</li>
 *   <li>2 copies: 1. Writes go to both and succeed if one did; reads succeed if one child answers. With two
 *   copies there is no majority to repair a silent mismatch, so no rewrite-corrupted: a mismatch is
 *   reported (QUORUM_REPORT_BAD) and the first child's version is returned.</li>
 * </ul>
 * Only in-sync copies are opened; the threshold is clamped to the children present. File nodes use
 * O_DIRECT ({@code cache.direct}), so the host page cache neither hides a failing device nor
 * double-caches guest data.
 */
public record BlockGraph(List<Map<String, Object>> nodes, String top) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public BlockGraph {
        nodes = List.copyOf(nodes);
    }

    public static BlockGraph of(VolumeLayout layout) {
        List<CopyLocation> live = layout.inSyncCopies();
        if (live.isEmpty()) throw new IllegalStateException("volume " + layout.volumeId() + " has no in-sync copy");
        List<Map<String, Object>> nodes = new ArrayList<>();
        List<String> children = new ArrayList<>();
        for (CopyLocation copy : live) {
            nodes.add(fileNode(layout.volumeId(), copy));
            nodes.add(qcow2Node(layout.volumeId(), copy));
            children.add(copy.formatNode(layout.volumeId()));
        }
        if (layout.copies().size() == 1) return new BlockGraph(nodes, children.getFirst());
        int threshold = Math.min(voteThreshold(layout.copies().size()), children.size());
        Map<String, Object> quorum = new LinkedHashMap<>();
        quorum.put("driver", "quorum");
        quorum.put("node-name", layout.volumeId());
        quorum.put("children", children);
        quorum.put("vote-threshold", threshold);
        if (threshold * 2 > children.size() && children.size() > 1) quorum.put("rewrite-corrupted", true);
        quorum.put("read-pattern", "quorum");
        nodes.add(quorum);
        return new BlockGraph(nodes, layout.volumeId());
    }

    /** 3 copies → 2 (majority, repairs a bad child); 2 copies → 1 (survives one bad child); 1 → 1. */
    public static int voteThreshold(int copies) {
        return copies >= 3 ? 2 : 1;
    }

    static Map<String, Object> fileNode(String volumeId, CopyLocation copy) {
        Map<String, Object> node = new LinkedHashMap<>();
        node.put("driver", "file");
        node.put("node-name", copy.fileNode(volumeId));
        node.put("filename", copy.file(volumeId).toString());
        node.put("cache", Map.of("direct", true));
        return node;
    }

    static Map<String, Object> qcow2Node(String volumeId, CopyLocation copy) {
        Map<String, Object> node = new LinkedHashMap<>();
        node.put("driver", "qcow2");
        node.put("node-name", copy.formatNode(volumeId));
        node.put("file", copy.fileNode(volumeId));
        return node;
    }

    public List<String> nodeNames() {
        return nodes.stream().map(n -> (String) n.get("node-name")).toList();
    }

    /** {@code -blockdev <json>} for every node, children first: the boot-disk form of this graph. */
    public List<String> commandLineArgs() {
        List<String> argv = new ArrayList<>();
        for (Map<String, Object> node : nodes) {
            argv.add("-blockdev");
            argv.add(toJson(node));
        }
        return argv;
    }

    /** The whole graph as one nested JSON document, as {@code qemu-io --image-opts}/{@code json:} accept it. */
    public String nestedJson() {
        return "json:" + toJson(nested(top));
    }

    private Map<String, Object> nested(String name) {
        Map<String, Object> node = nodes.stream().filter(n -> name.equals(n.get("node-name"))).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no node " + name));
        Map<String, Object> copy = new LinkedHashMap<>(node);
        copy.remove("node-name");
        if (copy.get("file") instanceof String child) copy.put("file", nested(child));
        if (copy.get("children") instanceof List<?> kids) {
            copy.put("children", kids.stream().map(k -> (Object) nested((String) k)).toList());
        }
        return copy;
    }

    static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
