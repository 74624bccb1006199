package io.c9fs.transport.codec;

/**
 * A frame that breaks the 9P wire rules: bad size, unknown type or one the dialect lacks,
 * truncated or overlong fields, malformed UTF-8. Unchecked so that it can cross Netty's decoder
 * callbacks; the pipelines catch it and close the connection, since after a framing error the
 * byte stream cannot be trusted any more.
 */
public final class ProtocolException extends RuntimeException {
    private final int tag;

    /** {@code tag} is the frame's tag if it could be read, else -1. */
    public ProtocolException(String message, int tag) {
        super(message);
        this.tag = tag;
    }

    public ProtocolException(String message) {
        this(message, -1);
    }

    /** The tag of the offending frame, or -1 when the frame was too short to carry one. */
    public int tag() {
        return tag;
    }

    /** This exception with the frame's tag attached (decoding learns the tag before the body). */
    ProtocolException withTag(int frameTag) {
        if (tag >= 0) {
            return this;
        }
        ProtocolException e = new ProtocolException(getMessage(), frameTag);
        e.setStackTrace(getStackTrace());
        return e;
    }
}
