"""wafermesh's tokenizer trainer and encoder, in plain Python (no torch), shared by the training
script and the cross-check test that compares it with the TypeScript encoder.

    python3 tools/train/tokenizer.py encode TOKENIZER.bin < texts.jsonl   # one JSON id list per line
"""
import json
import math
import re
import struct
import sys
from collections import Counter

BOS, EOS = 1, 2
PRETOKEN = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^A-Za-z0-9 ]| ")


# ----------------------------------------------------------------------------------------------
# Tokenizer: <unk>, <s>, </s>, 256 byte tokens <0xNN>, the corpus' characters, then BPE merges
# learned inside pre-tokens (a word with its leading space, or one other character). Scores rank
# merges so llama2.c's encoder (merge the best-scoring adjacent pair first) replays them in order.

def train_tokenizer(texts, vocab_size):
    words = Counter()
    for t in texts:
        words.update(PRETOKEN.findall(" " + t))
    chars = sorted({c for w in words for c in w})
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + chars
    scores = [0.0] * len(pieces)
    seqs = {w: list(w) for w in words}
    while len(pieces) < vocab_size:
        pairs = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merged = a + b
        pieces.append(merged)
        scores.append(-float(len(pieces)))  # earlier merges score higher
        for w in words:
            s = seqs[w]
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return pieces, scores


class Encoder:
    """llama2.c's encode(): dummy-prefix space, one token per character (byte fallback), then
    greedy best-score merges. Merged pieces never span pre-tokens, so each pre-token can be
    encoded on its own and cached; the result equals encoding the whole text at once."""

    def __init__(self, pieces, scores):
        self.id = {p: i for i, p in reversed(list(enumerate(pieces)))}
        self.scores = scores
        self.pieces = pieces
        self.cache = {}

    def word(self, w):
        if w in self.cache:
            return self.cache[w]
        ids = []
        for c in w:
            if c in self.id:
                ids.append(self.id[c])
            else:
                ids.extend(self.id[f"<0x{b:02X}>"] for b in c.encode("utf-8"))
        while True:
            best, bi = -math.inf, -1
            for i in range(len(ids) - 1):
                m = self.id.get(self.pieces[ids[i]] + self.pieces[ids[i + 1]])
                if m is not None and self.scores[m] > best:
                    best, bi = self.scores[m], i
            if bi < 0:
                break
            ids[bi:bi + 2] = [self.id[self.pieces[ids[bi]] + self.pieces[ids[bi + 1]]]]
        self.cache[w] = ids
        return ids

    def encode(self, text, bos=True):
        out = [BOS] if bos else []
        if not text:  # llama2.c adds the dummy-prefix space only to non-empty text
            return out
        for w in PRETOKEN.findall(" " + text):
            out.extend(self.word(w))
        return out


def write_tokenizer(path, pieces, scores):
    blobs = [p.encode("utf-8") for p in pieces]
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(b) for b in blobs)))
        for b, s in zip(blobs, scores):
            f.write(struct.pack("<fi", s, len(b)))
            f.write(b)


def read_tokenizer(path):
    data = open(path, "rb").read()
    off, pieces, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n].decode("utf-8"))
        scores.append(score)
        off += n
    return pieces, scores


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "encode":
        sys.exit("usage: tokenizer.py encode TOKENIZER.bin < texts.jsonl")
    enc = Encoder(*read_tokenizer(sys.argv[2]))
    for line in sys.stdin:
        print(json.dumps(enc.encode(json.loads(line))))
