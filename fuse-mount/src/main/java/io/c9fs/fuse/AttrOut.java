package io.c9fs.fuse;

/** The reply to GETATTR and SETATTR: attributes and how long the kernel may cache them. */
public record AttrOut(long attrValidNanos, Attr attr) {
}
