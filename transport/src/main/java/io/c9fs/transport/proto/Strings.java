package io.c9fs.transport.proto;

/** UTF-8 sizes of 9P strings (s[2] length prefix plus bytes), without encoding them. */
public final class Strings {
    private Strings() {
    }

    /** Number of bytes {@code s} takes in UTF-8. Unpaired surrogates count as '?' (one byte). */
    public static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                n += 1;
            } else {
                n += 3;
            }
        }
        return n;
    }
}
