package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * READDIRPLUS through Treaddirattr (9P2000.L.c9), across two c9fs-mount daemons on one
 * c9fs-serve: a listing gives the kernel every entry's attributes in one message per batch,
 * with nodes that have no fid yet. The server leases every file it lists, so another client's
 * chmod, write or truncate of a listed file shows at once (clause 5 of docs/coherence.md), though
 * actimeo is a minute here: nothing is left to a timeout.
 */
@Tag("mount")
class ReaddirattrMountTest {
    /** For changes that show by a lookup of a new name (no timeout involved), on a loaded machine. */
    private static final long SHOWS_WITHIN_S = 10;

    @RegisterExtension
    static final TwoMounts.PerClass mounts = new TwoMounts.PerClass("readdirattr", "timeout=10,actimeo=60,listattr", "timeout=10,actimeo=60,listattr");

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    /** Polls until {@code shown}; fails after {@link #SHOWS_WITHIN_S}. Returns the seconds it took. */
    private static double within(String what, BooleanSupplier shown) throws Exception {
        long start = System.nanoTime();
        while (!shown.getAsBoolean()) {
            if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(SHOWS_WITHIN_S)) {
                fail(what + " not seen within " + SHOWS_WITHIN_S + " s");
            }
            Thread.sleep(20);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private static boolean check(Path p, String mode, long size) {
        try {
            return mode(p).equals(mode) && Files.size(p) == size;
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void aListingShowsEveryEntrysAttributes() throws Exception {
        Path d = Files.createDirectory(mounts.export().resolve("many"));
        for (int i = 0; i < 600; i++) {
            Files.writeString(d.resolve("f" + i), "x".repeat(i % 50));
        }
        Files.createDirectory(d.resolve("sub"));
        Files.createSymbolicLink(d.resolve("ln"), Path.of("f1"));
        TestEnv.Result ls = TestEnv.run(mounts.a().resolve("many"), 60, "ls", "-ln");
        assertEquals(0, ls.status(), ls.output());
        List<String> lines = ls.output().lines().filter(l -> !l.startsWith("total")).toList();
        assertEquals(602, lines.size(), ls.output());
        String f49 = lines.stream().filter(l -> l.endsWith(" f49")).findFirst().orElse("");
        assertTrue(f49.startsWith("-rw-r--r-- ") && f49.contains(" 49 "), f49);
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("d") && l.endsWith(" sub")), ls.output());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("l") && l.endsWith(" ln -> f1")), ls.output());
        // A listed node gets its fid when first needed: reading it, and through the symlink.
        assertEquals("x".repeat(7), Files.readString(mounts.a().resolve("many/f7")));
        assertEquals("x", Files.readString(mounts.a().resolve("many/ln")));
        TestEnv.Result again = TestEnv.run(mounts.a().resolve("many"), 60, "ls", "-ln");
        assertEquals(ls.output(), again.output());
    }

    @Test
    void anotherClientsChmodWriteAndTruncateOfListedFilesShowThrough() throws Exception {
        // Made through B, so A knows the files only from its listing (nodes without fids).
        Path bd = Files.createDirectory(mounts.b().resolve("changed"));
        for (String n : List.of("m", "w", "t")) {
            Files.writeString(bd.resolve(n), "0123456789");
        }
        Path d = mounts.a().resolve("changed");
        TestEnv.Result ls = TestEnv.run(d, 60, "ls", "-ln");
        assertEquals(0, ls.status(), ls.output());
        assertTrue(ls.output().contains(" 10 "), ls.output());
        // Listed, not yet walked: leased by the listing, so each change is recalled from A
        // before B's call returns, and A's next stat sees it.
        TestEnv.run(null, 30, "chmod", "600", bd.resolve("m").toString());
        assertTrue(check(d.resolve("m"), "rw-------", 10), "chmod of a listed file");
        Files.writeString(bd.resolve("w"), "0123456789abcdefghij");
        assertTrue(check(d.resolve("w"), "rw-r--r--", 20), "write of a listed file");
        TestEnv.run(null, 30, "truncate", "-s", "3", bd.resolve("t").toString());
        assertTrue(check(d.resolve("t"), "rw-r--r--", 3), "truncate of a listed file");
        // Now each has a fid too (walked by the stat that fetched fresh attributes): the same.
        TestEnv.run(null, 30, "chmod", "640", bd.resolve("m").toString());
        Files.writeString(bd.resolve("w"), "short");
        TestEnv.run(null, 30, "truncate", "-s", "1", bd.resolve("t").toString());
        assertEquals("rw-r-----", mode(d.resolve("m")));
        assertEquals(5, Files.size(d.resolve("w")));
        assertEquals(1, Files.size(d.resolve("t")));
        assertEquals("0", Files.readString(d.resolve("t")));
    }

    @Test
    void aFileListedAgainAfterTheKernelForgotItIsStillLeased() throws Exception {
        Path bd = Files.createDirectory(mounts.b().resolve("again"));
        Files.writeString(bd.resolve("f"), "0123456789");
        Path d = mounts.a().resolve("again");
        assertEquals(0, TestEnv.run(d, 60, "ls", "-ln").status());
        // Make A's kernel forget the listed node (its Tunlist returns the first listing's
        // lease), then list again: the second listing's lease must stand.
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "2");
        assertEquals(0, TestEnv.run(d, 60, "ls", "-ln").status());
        Thread.sleep(200); // any Tunlist of the first node has gone out
        TestEnv.run(null, 30, "chmod", "600", bd.resolve("f").toString());
        assertTrue(check(d.resolve("f"), "rw-------", 10), "chmod of a file listed twice");
    }

    /**
     * A directory A made answers lookups of names it lacks without asking the server (create
     * looks every new name up first); a name made by B, or on the server machine, must show
     * anyway: its entry recall makes A ask again.
     */
    @Test
    void aDirectoryMadeHereSeesNamesMadeElsewhere() throws Exception {
        Path d = Files.createDirectory(mounts.a().resolve("made"));
        assertFalse(Files.exists(d.resolve("x")));
        Files.writeString(mounts.b().resolve("made/x"), "from b");
        assertEquals("from b", Files.readString(d.resolve("x")));
        Path d2 = Files.createDirectory(mounts.a().resolve("made2"));
        Files.writeString(d2.resolve("y"), "a");
        Files.delete(d2.resolve("y"));
        assertFalse(Files.exists(d2.resolve("y")));
        Files.writeString(mounts.b().resolve("made2/y"), "b");
        assertEquals("b", Files.readString(d2.resolve("y")));
        Path d3 = Files.createDirectory(mounts.a().resolve("made3"));
        assertFalse(Files.exists(d3.resolve("z")));
        Files.writeString(mounts.export().resolve("made3/z"), "local");
        within("a name made on the server machine", () -> Files.exists(d3.resolve("z")));
    }

    /**
     * A file written and closed here has its attributes fetched at the close and kept for the
     * next stat; a change by B (recalled), and this mount's own chmod, truncate, link and unlink,
     * must all show at A's next stat anyway.
     */
    @Test
    void attributesKeptAfterAWriterClosesFollowEveryChange() throws Exception {
        Files.createDirectory(mounts.a().resolve("kept"));
        Path f = mounts.a().resolve("kept/f");
        Files.writeString(f, "abc");
        Thread.sleep(100); // the fetch at the close has come back
        assertEquals(3, Files.size(f));
        TestEnv.run(null, 30, "chmod", "600", mounts.b().resolve("kept/f").toString());
        assertEquals("rw-------", mode(f));
        Files.writeString(mounts.b().resolve("kept/f"), "abcdef");
        assertEquals(6, Files.size(f));
        Files.writeString(f, "0123456789");
        Thread.sleep(100);
        assertEquals(10, Files.size(f));
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(4);
        }
        assertEquals(4, Files.size(f));
        TestEnv.run(null, 30, "chmod", "640", f.toString());
        assertEquals("rw-r-----", mode(f));
        Files.createLink(mounts.a().resolve("kept/g"), f);
        assertEquals(2, Files.getAttribute(f, "unix:nlink"));
        Files.delete(mounts.a().resolve("kept/g"));
        assertEquals(1, Files.getAttribute(f, "unix:nlink"));
        Files.writeString(mounts.b().resolve("kept/f"), "x");
        assertEquals(1, Files.size(f));
    }

    /**
     * The kernel keeps a listing it read (FOPEN_CACHE_DIR) and serves the next one itself while
     * the leases stand: no Treaddirattr, the server lists and stats nothing. Another client's
     * create, unlink and rename there, and a change on the server machine, must show in A's next
     * listing all the same: the entry recall drops the kept listing before B's call returns.
     */
    @Test
    void aListingKeptByTheKernelFollowsEveryChangeOfANameElsewhere() throws Exception {
        Path bd = Files.createDirectory(mounts.b().resolve("kept-listing"));
        for (int i = 0; i < 2000; i++) {
            Files.writeString(bd.resolve("f" + i), "");
        }
        Path d = mounts.a().resolve("kept-listing");
        assertEquals(2000, names(d).size());
        // Uncached, 2,000 entries are about a dozen Treaddirattr; kept, the open's clone walk,
        // Tlopen and Tclunk, and perhaps a lease heartbeat. Three tries: a drop_caches by anything
        // else on the machine evicts the kept listing with the directory's inode.
        long spent = Long.MAX_VALUE;
        for (int i = 0; i < 3 && spent > 8; i++) {
            long before = requests(mounts.a());
            assertEquals(2000, names(d).size());
            spent = requests(mounts.a()) - before;
        }
        assertTrue(spent <= 8, spent + " 9P requests for a listing the kernel kept");
        Files.writeString(bd.resolve("new"), "");
        assertTrue(names(d).contains("new"), "B's create");
        Files.delete(bd.resolve("f7"));
        assertFalse(names(d).contains("f7"), "B's unlink");
        Files.move(bd.resolve("f8"), bd.resolve("g8"));
        java.util.Set<String> moved = names(d);
        assertTrue(moved.contains("g8") && !moved.contains("f8"), "B's rename");
        Files.writeString(mounts.export().resolve("kept-listing/local"), "");
        within("a name made on the server machine", () -> {
            try {
                return names(d).contains("local");
            } catch (Exception e) {
                return false;
            }
        });
        // A's own changes: the kernel drops its kept listing itself.
        Files.writeString(d.resolve("mine"), "");
        assertTrue(names(d).contains("mine"), "A's create");
        Files.delete(d.resolve("mine"));
        assertFalse(names(d).contains("mine"), "A's unlink");
        assertEquals(2001, names(d).size());
    }

    private static java.util.Set<String> names(Path dir) throws Exception {
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(java.util.stream.Collectors.toSet());
        }
    }

    /** The mount's count of 9P requests sent (c9fs stats). */
    private static long requests(Path mnt) throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int status = StatsCommand.run(new String[] {mnt.toString()}, new java.io.PrintStream(out, true),
                new java.io.PrintStream(err, true));
        assertEquals(0, status, err.toString(java.nio.charset.StandardCharsets.UTF_8));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("9p: +([0-9]+) requests")
                .matcher(out.toString(java.nio.charset.StandardCharsets.UTF_8));
        assertTrue(m.find(), out.toString(java.nio.charset.StandardCharsets.UTF_8));
        return Long.parseLong(m.group(1));
    }

    @Test
    void aListedNameReplacedByAnotherFileIsLookedUpAgain() throws Exception {
        Path d = Files.createDirectory(mounts.a().resolve("replaced"));
        Files.writeString(d.resolve("f"), "old");
        TestEnv.Result ls = TestEnv.run(d, 60, "ls", "-ln");
        assertEquals(0, ls.status(), ls.output());
        Path bf = mounts.b().resolve("replaced/f");
        Files.delete(bf);
        Files.writeString(bf, "brand new");
        within("the new file", () -> {
            try {
                return Files.readString(d.resolve("f")).equals("brand new");
            } catch (Exception e) {
                return false;
            }
        });
    }
}
