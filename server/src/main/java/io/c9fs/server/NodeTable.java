package io.c9fs.server;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The live {@link FileNode}s by qid.path, each present while some fid refers to its file.
 *
 * <p>Threading: any thread. {@link #acquire}/{@link #release} pair up; the node's count is changed
 * inside the map's compute so that a release to zero and a concurrent acquire cannot lose a node.
 */
public final class NodeTable {
    private final ConcurrentHashMap<Long, FileNode> nodes = new ConcurrentHashMap<>();

    public FileNode acquire(long qidPath) {
        return nodes.compute(qidPath, (k, n) -> {
            FileNode node = n == null ? new FileNode(k) : n;
            node.ref(1);
            return node;
        });
    }

    public void release(FileNode node) {
        nodes.computeIfPresent(node.qidPath(), (k, n) -> n.ref(-1) == 0 ? null : n);
    }

    /** The node of a file some fid refers to, or null. */
    public FileNode peek(long qidPath) {
        return nodes.get(qidPath);
    }

    public int size() {
        return nodes.size();
    }
}
