package io.c9fs.transport.proto;

/** One 9P exchange unit as it crosses the wire: a message and the tag that pairs T with R. */
public record Fcall(int tag, Message message) {
    public Fcall {
        if ((tag & ~0xFFFF) != 0) {
            throw new IllegalArgumentException("tag is 16 bits: " + tag);
        }
        java.util.Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return "tag " + tag + " " + message;
    }
}
