"""Free-text scanning speed: MB/s on one core, ours next to Presidio's, same text.

Usage: python bench/pii_bench.py [--mb 2] [--seed 2026] [--presidio-mb 0.5]

The text is a mix of what a marketing proxy sees: a quarter of the lines carry
personal data (the sentences of bench/pii_corpus.py), the rest are ordinary
service notes, product copy, logistics updates, chat and log lines with prices,
dates, order numbers and versions (bench/pii_corpus.py's hard negatives and
the neutral lines below). Each line is one document, as `govproxy pii scan`
reads them. Measured, in one run, single-threaded (wall time = CPU time here):

  * `governance.pii.scan` and `redact` (the proxy's fast path), per line, and
    `scan` over documents of 64 lines (about 4 KB, a chat excerpt or prompt);
  * the same recognizers through Presidio's `AnalyzerEngine.analyze`
    (`governance.pii.presidio.build_analyzer()`, `NoOpNlpEngine`);
  * Presidio's own pattern-only pipeline: its predefined PhoneRecognizer (CN),
    EmailRecognizer, CreditCardRecognizer and IpRecognizer, `NoOpNlpEngine`.

The Presidio runs use the first `--presidio-mb` of the text (they are slower).
Prints MB/s (UTF-8 bytes) and PASS/FAIL against 3 MB/s for `scan`.
"""

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable

from pii_corpus import hard_negatives, positives
from pii_eval import presidio_builtins

from governance.pii import redact, scan
from governance.pii.presidio import build_analyzer

TARGET_MB_S = 3.0
NEUTRAL = (
    "本店新品上架，满{a}减{b}，活动截止到{m}月{d}日，欢迎选购。",
    "您的包裹已到达{city}转运中心，预计{d}日送达。",
    "客户咨询物流进度，已告知预计送达时间。",
    "客户反馈尺码偏小，已安排换货，运费由商家承担。",
    "商品已售罄，补货时间待定，请关注店铺通知。",
    "这款面霜适合干性皮肤，每日早晚各用一次，{a}ml装售价{b}元。",
    "直播间今晚8点开播，福利款限量{a}件，先到先得。",
    "订单已完成，感谢您的购买，期待再次光临！",
    "会员积分{a}分可兑换{b}元优惠券，有效期至{m}月底。",
    "亲，这边帮您查了一下，物流显示正在派送中哦~",
    "好的，已经帮您备注了，发货前会再确认一次。",
    "2026-{m:02d}-{d:02d} 10:{a:02d}:{b:02d} INFO order-svc batch done count={a} cost={b}ms",
    "2026-{m:02d}-{d:02d} 11:{b:02d}:{a:02d} DEBUG cache hit ratio 0.{a} size={b}",
    "GET /api/v2/products?page={a}&size={b} 200 {a}ms",
    "The new collection ships in {m} weeks; free returns within {d} days.",
    "库存预警：SKU {a}{b}{a} 剩余 {d} 件，请及时补货。",
    "本周退货率{a}.{b}%，较上周下降{d}个百分点。",
    "客户询问优惠券使用规则，已解答。",
    "客户要求开具电子发票，已发送至邮箱。",
    "双十一预售定金{a}元，尾款{b}元，{m}月{d}日开始支付尾款。",
)
CITIES = ("杭州", "上海", "广州", "成都", "武汉", "北京", "深圳", "南京")


def mixed_lines(megabytes: float, seed: int) -> list[str]:
    """About `megabytes` of lines, a quarter of them with personal data."""
    rng = random.Random(seed)
    personal = [s.text for s in positives(4000, seed)]
    negatives = [s.text for s in hard_negatives(seed)]
    lines: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        draw = rng.random()
        if draw < 0.25:
            line = rng.choice(personal)
        elif draw < 0.4:
            line = rng.choice(negatives)
        else:
            line = rng.choice(NEUTRAL).format(
                a=rng.randrange(1, 99),
                b=rng.randrange(1, 99),
                m=rng.randrange(1, 13),
                d=rng.randrange(1, 29),
                city=rng.choice(CITIES),
            )
        lines.append(line)
        size += len(line.encode("utf-8")) + 1
    return lines


def rate(lines: list[str], run: Callable[[str], object]) -> float:
    """MB/s of `run` over every line (UTF-8 bytes, newline included)."""
    size = sum(len(line.encode("utf-8")) + 1 for line in lines)
    gc.collect()
    started = time.process_time()
    for line in lines:
        run(line)
    return size / 1_000_000 / (time.process_time() - started)


def main() -> int:
    """Run the benchmark; 0 when `scan` reaches the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--presidio-mb", type=float, default=0.5)
    args = parser.parse_args()
    lines = mixed_lines(args.mb, args.seed)
    sample = lines[: max(1, int(len(lines) * args.presidio_mb / args.mb))]
    analyzer = build_analyzer()
    builtins = presidio_builtins()
    for line in lines[:200]:  # build the lazily made tables (regions, places)
        scan(line)
    documents = ["\n".join(lines[i : i + 64]) for i in range(0, len(lines), 64)]
    results = {
        "governance.pii.scan": rate(lines, scan),
        "governance.pii.scan, 64-line documents": rate(documents, scan),
        "governance.pii.redact": rate(lines, redact),
        "ours via Presidio AnalyzerEngine": rate(
            sample, lambda line: analyzer.analyze(line, language="zh")
        ),
        "Presidio built-ins (pattern only)": rate(sample, builtins),
    }
    print(
        f"{len(lines)} lines, {args.mb:.1f} MB mixed text ({len(sample)} lines for Presidio)"
    )
    for name, value in results.items():
        print(f"{name:<40}{value:>8.2f} MB/s")
    ok = results["governance.pii.scan"] >= TARGET_MB_S
    print(
        f"\n{'PASS' if ok else 'FAIL'}: scan {results['governance.pii.scan']:.2f} MB/s "
        f"(target {TARGET_MB_S} MB/s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
