package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.testing.DiodServer;
import io.c9fs.transport.testing.Scratch;
import io.c9fs.transport.testing.ScriptedServer;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proposing the lease extension "9P2000.L.c9" (docs/protocol.md): every kind of server ends in
 * a dialect both sides speak.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VersionNegotiationTest {
    private static final ClientConfig C9 = ClientConfig.defaults().withVersion(Dialect.P9P2000_L_C9.version());

    private static Dialect negotiate(EnumSet<Dialect> offered) throws Exception {
        try (ScriptedServer server = new ScriptedServer(offered, 65536);
             NinepClient c = NinepClient.connect(server.address(), C9)) {
            return c.dialect();
        }
    }

    @Test
    void aLeaseServerAgreesOnTheExtension() throws Exception {
        assertEquals(Dialect.P9P2000_L_C9, negotiate(EnumSet.allOf(Dialect.class)));
    }

    @Test
    void aServerWithoutItAnswersTheBaseDialect() throws Exception {
        assertEquals(Dialect.P9P2000_L, negotiate(EnumSet.of(Dialect.P9P2000_L, Dialect.P9P2000)));
    }

    @Test
    void aPlan9ServerEndsIn9P2000AfterOneRetry() throws Exception {
        assertEquals(Dialect.P9P2000, negotiate(EnumSet.of(Dialect.P9P2000)));
    }

    /** diod refuses an unknown version with Rlerror and keeps the connection: the client retries. */
    @Test
    @Tag("diod")
    void diodRefusesAndTheClientFallsBackTo9P2000L() throws Exception {
        Path export = Scratch.newDir("diod-version");
        try (DiodServer diod = DiodServer.start(export);
             NinepClient c = NinepClient.connect(diod.address(), C9)) {
            assertEquals(Dialect.P9P2000_L, c.dialect());
            int root = c.allocFid();
            c.attach(root, c.config().uname(), diod.aname());
        } finally {
            Scratch.delete(export);
        }
    }
}
