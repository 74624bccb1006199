package io.c9fs.server.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.server.ServedExport;
import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rcallback;
import io.c9fs.transport.proto.Message.Recall;
import io.c9fs.transport.proto.Message.Rlease;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tcallback;
import io.c9fs.transport.proto.Message.Tlease;
import io.c9fs.transport.proto.Message.Tread;
import io.c9fs.transport.proto.Message.Twalk;
import io.c9fs.transport.proto.Message.Twrite;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The lease protocol of docs/protocol.md against a real c9fs-serve on 127.0.0.1, with
 * 9P2000.L.c9 clients (the transport's NinepClient) and plain 9P2000.L ones.
 */
class LeaseProtocolTest {
    static final String C9 = "9P2000.L.c9";
    static final String L = "9P2000.L";
    static final int O_RDWR = 2;

    /** A client attached at its fid {@link #root}, the export root's qid.path being {@code rootPath}. */
    record Conn(NinepClient c, int root, long rootPath) {
        int walk(String... names) throws Exception {
            return ServedExport.walk(c, root, names);
        }

        /** A new fid on {@code name}, open for reading and writing. */
        int open(String name) throws Exception {
            int fid = walk(name);
            c.call(new Message.Tlopen(fid, O_RDWR), Message.Rlopen.class);
            return fid;
        }

        CompletableFuture<Rwrite> write(int fid, long offset, String s) {
            return c.rpc(new Twrite(fid, offset, Unpooled.wrappedBuffer(s.getBytes(StandardCharsets.UTF_8))),
                    Rwrite.class);
        }

        String read(int fid, long offset, int count) throws Exception {
            Rread r = c.call(new Tread(fid, offset, count), Rread.class);
            try {
                return r.data().toString(StandardCharsets.UTF_8);
            } finally {
                r.release();
            }
        }

        long qidPath(String name) throws Exception {
            int fid = c.allocFid();
            Rwalk w = c.call(new Twalk(root, fid, List.of(name)), Rwalk.class);
            ServedExport.clunk(c, fid);
            return w.wqids().get(0).path();
        }
    }

    static Conn conn(ServedExport x, String version) throws Exception {
        NinepClient c = x.connect(version);
        int root = c.allocFid();
        long rootPath = c.attach(root, "root", "").path();
        return new Conn(c, root, rootPath);
    }

    static ServedExport serve(long termMs) throws Exception {
        return ServedExport.start(c -> c.withLeaseTerm(Duration.ofMillis(termMs)));
    }

    @Test
    void c9ClientsGetLeasesUnlessTheServerOffersNone() throws Exception {
        try (ServedExport x = ServedExport.start()) {
            Files.writeString(x.dir.resolve("f"), "hello");
            assertEquals(Dialect.P9P2000_L_C9, x.connect(C9).dialect());
            Conn plain = conn(x, L);
            assertEquals(Dialect.P9P2000_L, plain.c().dialect());
            int fid = plain.open("f");
            assertEquals("hello", plain.read(fid, 0, 100));
        }
        try (ServedExport x = ServedExport.start(c -> c.withLeases(false))) {
            Files.writeString(x.dir.resolve("f"), "hello");
            Conn c9 = conn(x, C9);
            assertEquals(Dialect.P9P2000_L, c9.c().dialect(), "falls back to 9P2000.L");
            assertEquals("hello", c9.read(c9.open("f"), 0, 100));
        }
    }

    @Test
    void aWriteIsAnsweredOnlyAfterTheReaderAcknowledgedItsRecall() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Files.writeString(x.dir.resolve("f"), "0123456789abcdefghij");
            Conn a = conn(x, C9);
            a.walk("f"); // an implicit read lease
            long path = a.qidPath("f");
            Conn b = conn(x, C9);
            try (Leaseholder ha = Leaseholder.listen(a.c(), false);
                 Leaseholder hb = Leaseholder.listen(b.c(), true)) {
                int bf = b.open("f");
                AtomicLong answeredAt = new AtomicLong();
                CompletableFuture<Rwrite> w = b.write(bf, 10, "XYZXY").whenComplete((r, e) -> answeredAt.set(System.nanoTime()));
                Leaseholder.Arrived got = ha.poll(5000);
                assertNotNull(got, "A was recalled");
                Recall r = got.recall();
                assertEquals(Recall.DATA, r.kind());
                assertEquals(path, r.path());
                assertEquals(10, r.offset());
                assertEquals(5, r.length());
                Thread.sleep(100);
                assertFalse(w.isDone(), "B's write waits for A");
                long ackAt = System.nanoTime();
                ha.acknowledge(r);
                assertEquals(5, w.get(5, TimeUnit.SECONDS).count());
                assertTrue(answeredAt.get() > ackAt, "Rwrite after Trecalled");

                // A plain client's write recalls A just the same.
                Conn plain = conn(x, L);
                CompletableFuture<Rwrite> pw = plain.write(plain.open("f"), 0, "p");
                Leaseholder.Arrived again = ha.poll(5000);
                assertNotNull(again);
                assertEquals(path, again.recall().path());
                assertEquals(0, again.recall().offset());
                assertFalse(pw.isDone());
                ha.acknowledge(again.recall());
                pw.get(5, TimeUnit.SECONDS);
                assertEquals("p123456789XYZXYfghij", Files.readString(x.dir.resolve("f")));
                assertTrue(x.server.stats().recallsSent() >= 2);
                assertTrue(x.server.stats().recallRoundTrip().samples() >= 2);
            }
        }
    }

    @Test
    void aWriteLeaseHolderLaundersBeforeAnotherClientReads() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Files.writeString(x.dir.resolve("f"), "old bytes here");
            Conn a = conn(x, C9);
            int af = a.open("f");
            Rlease lease = a.c().call(new Tlease(af, LeaseManager.WRITE), Rlease.class);
            assertEquals(LeaseManager.WRITE, lease.mode());
            assertEquals(10_000, lease.termMs());
            assertEquals(a.qidPath("f"), lease.qid().path());
            try (Leaseholder ha = Leaseholder.listen(a.c(), false)) {
                Conn b = conn(x, C9);
                int bf = b.open("f");
                CompletableFuture<Rread> read = b.c().rpc(new Tread(bf, 0, 100), Rread.class);
                Leaseholder.Arrived got = ha.poll(5000);
                assertNotNull(got, "the writer is recalled first");
                assertEquals(Recall.DATA, got.recall().kind());
                Thread.sleep(50);
                assertFalse(read.isDone(), "B's read waits for A's launder");
                // A launders its dirty page while B's read waits: served, no deadlock.
                assertEquals(9, a.write(af, 0, "LAUNDERED").get(5, TimeUnit.SECONDS).count());
                ha.acknowledge(got.recall());
                Rread r = read.get(5, TimeUnit.SECONDS);
                try {
                    assertEquals("LAUNDERED here", r.data().toString(StandardCharsets.UTF_8));
                } finally {
                    r.release();
                }
            }
        }
    }

    @Test
    void anUnacknowledgedRecallExpiresAndFencesItsHolder() throws Exception {
        try (ServedExport x = serve(300)) {
            Files.writeString(x.dir.resolve("f"), "abc");
            Conn a = conn(x, C9);
            int af = a.open("f");
            try (Leaseholder ha = Leaseholder.listen(a.c(), false)) {
                Conn b = conn(x, L);
                int bf = b.open("f");
                long t0 = System.nanoTime();
                b.write(bf, 0, "B").get(5, TimeUnit.SECONDS);
                long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
                assertTrue(waited >= 250 && waited < 3000, "B waited " + waited + " ms for a 300 ms term");
                assertNotNull(ha.poll(1000), "A was recalled (and never answered)");
                assertEquals(1, x.server.stats().recallsExpired());
                NinepException stale = assertThrows(NinepException.class,
                        () -> a.c().call(new Twrite(af, 0, Unpooled.wrappedBuffer(new byte[] {'A'})), Rwrite.class));
                assertEquals(Errno.ESTALE, stale.errno());
                assertThrows(NinepException.class, () -> a.c().call(new Message.Tfsync(af, 0), Message.Rfsync.class));
                a.c().call(new Tlease(af, LeaseManager.READ), Rlease.class);
                assertEquals(1, a.write(af, 1, "A").get(5, TimeUnit.SECONDS).count());
                assertEquals("BAc", Files.readString(x.dir.resolve("f")));
            }
        }
    }

    @Test
    void namesAndAttributesAreRecalledFromWhoeverHoldsTheDirectory() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Files.writeString(x.dir.resolve("f"), "x");
            Conn a = conn(x, C9); // its root fid: a read lease on the export's root directory
            int af = a.walk("f");
            long root = a.rootPath();
            long f = a.qidPath("f");
            try (Leaseholder ha = Leaseholder.listen(a.c(), true)) {
                Conn b = conn(x, L);
                int dir = b.walk();
                b.c().call(new Message.Tlcreate(dir, "new", O_RDWR, 0644, 0), Message.Rlcreate.class);
                assertEquals(Set.of("3 " + root + " new"), kinds(ha.drain(300)));

                b.c().call(new Message.Trenameat(b.root(), "new", b.root(), "renamed"), Message.Rrenameat.class);
                Set<String> renamed = kinds(ha.drain(300));
                assertTrue(renamed.contains("3 " + root + " new") && renamed.contains("3 " + root + " renamed"), renamed.toString());

                b.c().call(new Message.Tunlinkat(b.root(), "renamed", 0), Message.Runlinkat.class);
                assertEquals(Set.of("3 " + root + " renamed"), kinds(ha.drain(300)));

                int bf = b.walk("f");
                b.c().call(new Message.Tsetattr(bf, Message.Tsetattr.MODE, 0600, 0, 0, 0, 0, 0, 0, 0), Message.Rsetattr.class);
                assertEquals(Set.of("2 " + f + " "), kinds(ha.drain(300)));
                assertTrue(af >= 0);
            }
        }
    }

    @Test
    void localChangesAreRecalledButTheServersOwnAreNot() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Path file = x.dir.resolve("f");
            Files.writeString(file, "before");
            Conn a = conn(x, C9);
            int af = a.open("f");
            long f = a.qidPath("f");
            try (Leaseholder ha = Leaseholder.listen(a.c(), true)) {
                assertTrue(x.server.stats().localWatches() >= 1);
                a.write(af, 0, "server").get(5, TimeUnit.SECONDS);
                Files.writeString(x.dir.resolve("made-locally"), "x");
                List<Leaseholder.Arrived> own = ha.drain(400);
                assertFalse(kinds(own).stream().anyMatch(k -> k.contains(" " + f + " ")),
                        "no recall of f for the server's own write: " + kinds(own));
                assertTrue(kinds(own).contains("3 " + a.rootPath() + " made-locally"),
                        "a name created locally in a directory A holds: " + kinds(own));

                long t0 = System.nanoTime();
                Files.writeString(file, "local change");
                Leaseholder.Arrived first = ha.poll(2000);
                assertNotNull(first, "a local write is recalled");
                long ms = TimeUnit.NANOSECONDS.toMillis(first.at() - t0);
                Set<String> got = kinds(List.of(first));
                got.addAll(kinds(ha.drain(200)));
                assertTrue(got.contains("1 " + f + " ") && got.contains("2 " + f + " "), got.toString());
                assertTrue(ms < 200, "recalled " + ms + " ms after the local write");
                assertEquals(2, x.server.stats().leasesHeld(), "the root and f, through A's fids");
            }
            a.c().close();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (x.server.stats().localWatches() > 0 && System.nanoTime() < end) {
                Thread.sleep(10);
            }
            assertEquals(0, x.server.stats().localWatches(), "unwatched with the last fid");
            // Closed without a goodbye: A vanished, and its leases stand until its term ends.
            assertEquals(x.server.stats().leaseCounts().vanishedLeases(), x.server.stats().leasesHeld());
        }
    }

    /** A write that moves the end of file recalls the size too: mapped readers elsewhere depend on it. */
    @Test
    void aWriteThatExtendsTheFileRecallsItsAttributes() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Files.writeString(x.dir.resolve("f"), "abc");
            Conn a = conn(x, C9);
            a.walk("f");
            try (Leaseholder ha = Leaseholder.listen(a.c(), true)) {
                Conn b = conn(x, L);
                int fid = b.open("f");
                assertEquals(1, b.write(fid, 0, "x").get(5, TimeUnit.SECONDS).count());
                assertEquals(4, b.write(fid, 3, "more").get(5, TimeUnit.SECONDS).count());
                java.util.List<Integer> kinds = new java.util.ArrayList<>();
                Leaseholder.Arrived r;
                while ((r = ha.poll(300)) != null) {
                    kinds.add(r.recall().kind());
                }
                assertEquals(java.util.List.of(Message.Recall.DATA, Message.Recall.DATA, Message.Recall.ATTR),
                        kinds, "an overwrite recalls data; an append data and the size");
            }
        }
    }

    @Test
    void requestsWaitingForRecallsHoldNoWorker() throws Exception {
        try (ServedExport x = serve(10_000)) {
            // Longer than the writes reach: each write then recalls data only, not the size.
            Files.writeString(x.dir.resolve("f"), "abc".repeat(100));
            Conn a = conn(x, C9);
            a.walk("f");
            try (Leaseholder ha = Leaseholder.listen(a.c(), false)) {
                Conn b = conn(x, L);
                int n = 2 * x.server.config().workers();
                List<CompletableFuture<Rwrite>> writes = new java.util.ArrayList<>();
                for (int i = 0; i < n; i++) {
                    writes.add(b.write(b.open("f"), i, "w"));
                }
                List<Leaseholder.Arrived> recalls = new java.util.ArrayList<>();
                while (recalls.size() < n) {
                    Leaseholder.Arrived r = ha.poll(5000);
                    assertNotNull(r, "got " + recalls.size() + " of " + n + " recalls");
                    recalls.add(r);
                }
                assertTrue(writes.stream().noneMatch(CompletableFuture::isDone));
                // Twice as many writes as workers are waiting, yet another client is served.
                Conn c = conn(x, L);
                long t0 = System.nanoTime();
                c.c().call(new Message.Tgetattr(c.root(), Message.Rgetattr.BASIC), Message.Rgetattr.class);
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2), "served while writes wait");
                assertEquals(n, x.server.stats().recallsOutstanding());
                for (Leaseholder.Arrived r : recalls) {
                    ha.acknowledge(r.recall());
                }
                for (CompletableFuture<Rwrite> w : writes) {
                    assertEquals(1, w.get(5, TimeUnit.SECONDS).count());
                }
                assertEquals(0, x.server.stats().recallsOutstanding());
            }
        }
    }

    @Test
    void theServersOwnCreateIsNotALocalChange() throws Exception {
        try (ServedExport x = serve(10_000)) {
            NinepClient c = x.connect(C9);
            int root = c.allocFid();
            // n_uname 0: a server running as root gives the new file to uid 0, a chown that
            // inotify reports like anyone's.
            c.call(new Message.Tattach(root, Message.NOFID, "root", "", 0), Message.Rattach.class);
            try (Leaseholder h = Leaseholder.listen(c, true)) {
                int fid = ServedExport.walk(c, root);
                c.call(new Message.Tlcreate(fid, "mine", O_RDWR, 0644, 0), Message.Rlcreate.class);
                c.call(new Twrite(fid, 0, Unpooled.wrappedBuffer(new byte[] {'x'})), Rwrite.class);
                assertEquals(Set.of(), kinds(h.drain(400)), "nothing recalled from the creator");
                Files.writeString(x.dir.resolve("mine"), "local");
                assertFalse(kinds(h.drain(400)).isEmpty(), "while a local write is");
            }
        }
    }

    @Test
    void aQuietCallbackIsAnsweredWithinAThirdOfTheTerm() throws Exception {
        try (ServedExport x = serve(300)) {
            Conn a = conn(x, C9);
            long t0 = System.nanoTime();
            Rcallback r = a.c().call(new Tcallback(), Rcallback.class);
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(r.recalls().isEmpty());
            assertEquals(300, r.termMs());
            assertTrue(ms >= 90 && ms < 300, "heartbeat after " + ms + " ms, before the 300 ms term");
        }
    }

    @Test
    void aFlushedCallbackDoesNotSwallowRecalls() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Files.writeString(x.dir.resolve("f"), "abc");
            Conn a = conn(x, C9);
            a.walk("f");
            CompletableFuture<Rcallback> held = a.c().rpc(new Tcallback(), Rcallback.class);
            Thread.sleep(50);
            held.cancel(true);
            Thread.sleep(50);
            Conn b = conn(x, L);
            CompletableFuture<Rwrite> w = b.write(b.open("f"), 0, "z");
            try (Leaseholder ha = Leaseholder.listen(a.c(), true)) {
                assertNotNull(ha.poll(5000), "the recall came on the next Tcallback");
                w.get(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void secondCallbackAnswersTheFirstEmpty() throws Exception {
        try (ServedExport x = serve(10_000)) {
            Conn a = conn(x, C9);
            CompletableFuture<Rcallback> first = a.c().rpc(new Tcallback(), Rcallback.class);
            Thread.sleep(50);
            CompletableFuture<Rcallback> second = a.c().rpc(new Tcallback(), Rcallback.class);
            assertTrue(first.get(2, TimeUnit.SECONDS).recalls().isEmpty());
            assertFalse(second.isDone(), "the newer one is held");
            second.cancel(true);
        }
    }

    /** "kind path name" of each recall. */
    /**
     * A file known only from a Treaddirattr listing is leased (flag LEASED) until Tunlist: another
     * client's chmod and a process on the server machine are recalled to the lister as attr, and
     * after Tunlist nothing is.
     */
    @Test
    void listedFilesAreLeasedUntilUnlisted() throws Exception {
        try (ServedExport x = ServedExport.start()) {
            Files.createDirectory(x.dir.resolve("d"));
            Files.writeString(x.dir.resolve("d/f"), "hello");
            Conn a = conn(x, C9);
            Conn b = conn(x, C9);
            try (Leaseholder ha = Leaseholder.listen(a.c(), true)) {
                int dir = a.walk("d");
                a.c().call(new Message.Tlopen(dir, 0), Message.Rlopen.class);
                List<Message.AttrDirent> listed = a.c().call(new Message.Treaddirattr(dir, 0, 8192),
                        Message.Rreaddirattr.class).entries();
                Message.AttrDirent f = listed.stream().filter(e -> e.dirent().name().equals("f")).findFirst()
                        .orElseThrow();
                assertTrue((f.flags() & Message.AttrDirent.LEASED) != 0, "f is leased");
                for (Message.AttrDirent e : listed) {
                    if (e.dirent().name().startsWith(".")) {
                        assertEquals(0, e.flags() & Message.AttrDirent.LEASED, ". and .. are not");
                    }
                }
                long path = f.attr().qid().path();
                int bf = b.walk("d", "f");
                b.c().call(new Message.Tsetattr(bf, Message.Tsetattr.MODE, 0600, 0, 0, 0, 0, 0, 0, 0),
                        Message.Rsetattr.class);
                Leaseholder.Arrived got = ha.poll(5000);
                assertNotNull(got, "the chmod was recalled from the lister");
                assertEquals(path, got.recall().path());
                assertEquals(Recall.ATTR, got.recall().kind());
                // A process on the server machine: recalled too, though no fid holds the file.
                Files.writeString(x.dir.resolve("d/f"), "local change");
                boolean local = false;
                for (Leaseholder.Arrived r; !local && (r = ha.poll(5000)) != null; ) {
                    local = r.recall().path() == path;
                }
                assertTrue(local, "the local change was recalled from the lister");
                // The write comes as several inotify events, each recalled: let them pass.
                while (ha.poll(700) != null) {
                    continue;
                }
                a.c().call(new Message.Tunlist(List.of(new Message.Unlist(path, 1))), Message.Runlist.class);
                b.c().call(new Message.Tsetattr(bf, Message.Tsetattr.MODE, 0644, 0, 0, 0, 0, 0, 0, 0),
                        Message.Rsetattr.class);
                for (Leaseholder.Arrived r; (r = ha.poll(1000)) != null; ) {
                    assertTrue(r.recall().path() != path, "no recall of f after Tunlist: " + r.recall());
                }
            }
        }
    }

    static Set<String> kinds(List<Leaseholder.Arrived> got) {
        return got.stream().map(a -> a.recall().kind() + " " + a.recall().path() + " " + a.recall().name())
                .collect(Collectors.toCollection(java.util.TreeSet::new));
    }
}
