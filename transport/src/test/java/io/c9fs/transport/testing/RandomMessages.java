package io.c9fs.transport.testing;

import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.Unpooled;
import java.lang.reflect.Constructor;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Random but valid 9P messages of any record type, for property and fuzz tests: built
 * reflectively from each record's components, with the wire widths (u8 modes and lock types,
 * u16 tags) and the dialect's neutral values (no n_uname, extension or errno in 9P2000)
 * respected, so that a message survives encode/decode unchanged.
 */
public final class RandomMessages {
    private RandomMessages() {
    }

    /** Every message record type. */
    @SuppressWarnings("unchecked")
    public static List<Class<? extends Message>> allTypes() {
        List<Class<? extends Message>> out = new ArrayList<>();
        for (Class<?> c : Message.class.getPermittedSubclasses()) {
            out.add((Class<? extends Message>) c);
        }
        return out;
    }

    /** The record types {@code dialect} carries. */
    public static List<Class<? extends Message>> typesOf(Dialect dialect) {
        Random r = new Random(0);
        List<Class<? extends Message>> out = new ArrayList<>();
        for (Class<? extends Message> c : allTypes()) {
            if (Codec.of(dialect).carries(of(c, dialect, r).type())) {
                out.add(c);
            }
        }
        return out;
    }

    /** A random Fcall of a random type of {@code dialect}. */
    public static Fcall fcall(Dialect dialect, Random r) {
        List<Class<? extends Message>> types = typesOf(dialect);
        return new Fcall(r.nextInt(0x10000), of(types.get(r.nextInt(types.size())), dialect, r));
    }

    /** A random instance of {@code type} valid in {@code dialect}. */
    public static Message of(Class<? extends Message> type, Dialect dialect, Random r) {
        RecordComponent[] comps = type.getRecordComponents();
        Object[] args = new Object[comps.length];
        Class<?>[] types = new Class<?>[comps.length];
        for (int i = 0; i < comps.length; i++) {
            types[i] = comps[i].getType();
            args[i] = value(type, comps[i].getName(), comps[i].getGenericType(), dialect, r);
        }
        try {
            Constructor<? extends Message> k = type.getDeclaredConstructor(types);
            return k.newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("cannot build " + type, e);
        }
    }

    private static Object value(Class<?> owner, String name, Type t, Dialect d, Random r) {
        boolean plain = d == Dialect.P9P2000;
        String o = owner.getSimpleName();
        if (t == int.class) {
            if (name.equals("nUname")) {
                return plain ? Stat.NONUNAME : r.nextInt();
            }
            if (name.equals("errno")) {
                return d == Dialect.P9P2000_U ? r.nextInt(200) : 0;
            }
            if (name.equals("oldtag")) {
                return r.nextInt(0x10000);
            }
            if (name.equals("lockType") || name.equals("status")
                    || (name.equals("mode") && (o.equals("Topen") || o.equals("Tcreate")
                        || o.equals("Tlease") || o.equals("Rlease")))) {
                return r.nextInt(0x100);
            }
            return anyInt(r);
        }
        if (t == long.class) {
            return r.nextBoolean() ? r.nextLong() : (long) r.nextInt(1 << 20);
        }
        if (t == String.class) {
            if (name.equals("extension") && plain) {
                return "";
            }
            return string(r);
        }
        if (t == Qid.class) {
            return qid(r);
        }
        if (t == Message.Rgetattr.class) {
            return new Message.Rgetattr(r.nextLong(), qid(r), anyInt(r), anyInt(r), anyInt(r),
                    r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(),
                    r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(),
                    r.nextLong(), r.nextLong(), r.nextLong());
        }
        if (t == Stat.class) {
            return stat(d, r);
        }
        if (t == io.netty.buffer.ByteBuf.class) {
            byte[] b = new byte[r.nextInt(4) == 0 ? 0 : r.nextInt(3000)];
            r.nextBytes(b);
            return Unpooled.wrappedBuffer(b);
        }
        if (t instanceof ParameterizedType) {
            Type el = ((ParameterizedType) t).getActualTypeArguments()[0];
            int n = r.nextInt(Message.MAXWELEM + 1);
            List<Object> list = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (el == String.class) {
                    list.add(string(r));
                } else if (el == Qid.class) {
                    list.add(qid(r));
                } else if (el == Dirent.class) {
                    list.add(new Dirent(qid(r), r.nextLong(), r.nextInt(0x100), string(r)));
                } else if (el == Message.AttrDirent.class) {
                    Qid q = qid(r);
                    list.add(new Message.AttrDirent(new Dirent(q, r.nextLong(), r.nextInt(0x100), string(r)),
                            r.nextInt(0x100), new Message.Rgetattr(r.nextLong(), q, anyInt(r), anyInt(r), anyInt(r),
                            r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(),
                            r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(),
                            r.nextLong(), r.nextLong(), r.nextLong())));
                } else if (el == Message.Unlist.class) {
                    list.add(new Message.Unlist(r.nextLong(), anyInt(r)));
                } else if (el == Message.Recall.class) {
                    list.add(new Message.Recall(r.nextLong(), r.nextInt(0x100), r.nextLong(), r.nextLong(),
                            r.nextLong(), r.nextBoolean() ? "" : string(r)));
                } else {
                    throw new AssertionError("list of " + el);
                }
            }
            return list;
        }
        throw new AssertionError("no generator for " + t + " " + owner + "." + name);
    }

    private static int anyInt(Random r) {
        switch (r.nextInt(4)) {
            case 0: return 0;
            case 1: return -1;
            case 2: return r.nextInt(1000);
            default: return r.nextInt();
        }
    }

    public static Qid qid(Random r) {
        return new Qid(r.nextInt(0x100), r.nextInt(), r.nextLong());
    }

    public static Stat stat(Dialect d, Random r) {
        boolean u = d == Dialect.P9P2000_U;
        return new Stat(r.nextInt(0x10000), r.nextInt(), qid(r), r.nextInt(), r.nextInt(), r.nextInt(),
                r.nextLong(), string(r), string(r), string(r), string(r), u ? string(r) : "",
                u ? r.nextInt() : Stat.NONUNAME, u ? r.nextInt() : Stat.NONUNAME, u ? r.nextInt() : Stat.NONUNAME);
    }

    /** Valid Unicode: ASCII, 2- and 3-byte characters and supplementary pairs, no lone surrogates. */
    public static String string(Random r) {
        int n = r.nextInt(5) == 0 ? 0 : r.nextInt(24);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(6)) {
                case 0: b.append((char) (0x80 + r.nextInt(0x780))); break;
                case 1: b.append((char) (0x800 + r.nextInt(0xD000))); break;
                case 2: b.appendCodePoint(0x10000 + r.nextInt(0x100000)); break;
                default: b.append((char) (0x20 + r.nextInt(0x5F)));
            }
        }
        return b.toString();
    }
}
