#!/usr/bin/env python3
"""Generate scenarios/hangzhou-fund-442.toml (Hangzhou patent-pledge risk compensation fund, 4:4:2).

Usage (from the repository root):

    python3 scenarios/tools/make_hangzhou_fund.py > scenarios/hangzhou-fund-442.toml

Python 3 standard library only; the seed is fixed, so the output is the same on every run.

The source gives only totals (1,061 projects, CNY 15.18bn financed), so the individual loans are
synthetic: sizes are lognormal with the published mean (CNY 14.3m) and a wide spread (sigma 1.1,
i.e. many small loans), rounded to CNY 10,000, kept between CNY 200,000 and CNY 100m and scaled
so that they sum to exactly CNY 15,180,000,000 (the last rounding residual goes to the largest loan
that stays within those bounds). Each loan is given one of five industry sectors at random with fixed weights.
"""

import math
import random
import statistics

SEED = 442
N_LOANS = 1061                     # seed 001, excellent case 1: 1,061 projects in the fund
TOTAL = 15_180_000_000             # seed 001, excellent case 1: CNY 15.18bn financed
SIGMA = 1.1                        # log-space spread of loan sizes [assumption]
UNIT = 10_000                      # loans are rounded to CNY 10,000 (one wan)
FLOOR = 200_000                    # smallest loan [assumption]
CEILING = 100_000_000              # largest loan [assumption]: the guarantor's single-obligor limit,
                                   # 10% of its assumed CNY 1.0bn net assets
RATE = 0.053                       # loan rate [assumption: small/micro loan average, 2022]
ANNUAL_PD = 0.005                  # [assumption, back-tested against 5 overdue of 1,061]
# Industry sectors and their share of the loan count [assumption].
SECTORS = [
    ("digital", 0.35),    # digital economy / next-generation IT
    ("equipment", 0.30),  # advanced manufacturing and equipment
    ("materials", 0.12),  # new materials and chemicals
    ("bio", 0.10),        # biomedicine and medical devices
    ("consumer", 0.13),   # consumer goods, services and other
]


def loans():
    rng = random.Random(SEED)
    mean = TOTAL / N_LOANS
    mu = math.log(mean) - SIGMA * SIGMA / 2.0
    raw = [math.exp(mu + SIGMA * rng.gauss(0.0, 1.0)) for _ in range(N_LOANS)]
    sectors = []
    for _ in range(N_LOANS):
        u, acc = rng.random(), 0.0
        for name, w in SECTORS:
            acc += w
            if u < acc:
                break
        sectors.append(name)

    def sized(scale):
        return [min(CEILING, max(FLOOR, round(x * scale / UNIT) * UNIT)) for x in raw]

    # Find the scale at which the floored, capped, rounded loans come closest to the total
    # (bisection; the sum is monotone in the scale), then put the residual on the largest loan.
    lo, hi = 0.5 * TOTAL / sum(raw), 2.0 * TOTAL / sum(raw)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if sum(sized(mid)) < TOTAL:
            lo = mid
        else:
            hi = mid
    amounts = sized(lo)
    residual = TOTAL - sum(amounts)
    # the largest loan that stays within [FLOOR, CEILING] after taking the residual
    largest = max((i for i in range(N_LOANS) if FLOOR <= amounts[i] + residual <= CEILING),
                  key=lambda i: amounts[i])
    amounts[largest] += residual
    assert sum(amounts) == TOTAL and min(amounts) >= FLOOR
    assert max(amounts) <= CEILING
    assert all(a % UNIT == 0 for a in amounts)
    return amounts, sectors


def main():
    amounts, sectors = loans()
    srt = sorted(amounts)
    small = sum(1 for a in amounts if a < 2_000_000)
    by_sector = {name: (sectors.count(name), sum(a for a, s in zip(amounts, sectors) if s == name))
                 for name, _ in SECTORS}
    out = []
    w = out.append
    w("# Hangzhou patent-pledge risk compensation fund, guarantor : IP office : bank = 4 : 4 : 2.")
    w("# GENERATED FILE - do not edit by hand. Regenerate with:")
    w("#   python3 scenarios/tools/make_hangzhou_fund.py > scenarios/hangzhou-fund-442.toml")
    w("# Facts and assumptions: see scenarios/README.md.")
    w("#")
    w(f"# Loans: {N_LOANS:,}, total CNY {sum(amounts):,} (fact: 1,061 projects, CNY 15.18bn;")
    w("#   seed 001, excellent case 1). Individual loans are synthetic [assumption]:")
    w(f"#   lognormal, mean CNY {TOTAL / N_LOANS:,.0f}, log-sd {SIGMA}, seed {SEED}, rounded to CNY 10,000,")
    w(f"#   kept within CNY {FLOOR:,} - {CEILING:,} (the guarantor's assumed single-obligor limit),")
    w("#   scaled to the total; the rounding residual goes to the largest loan below the ceiling.")
    w(f"#   min {srt[0]:,}  10% {srt[len(srt) // 10]:,}  median {int(statistics.median(srt)):,}  "
      f"90% {srt[9 * len(srt) // 10]:,}  max {srt[-1]:,}")
    w(f"#   {small} loans below CNY 2m (the 5 overdue loans in the source averaged CNY 2.0m).")
    w("#   By sector (loans, CNY):")
    for k, (n, v) in by_sector.items():
        w(f"#     {k:<10} {n:>4}  {v:>15,}")
    w("")
    w('name = "hangzhou-fund-442"')
    w('currency = "CNY"')
    w('description = "Hangzhou patent-pledge risk compensation fund (4:4:2 guarantor : IP-office fund '
      ': bank), 1,061 one-year loans, CNY 15.18bn"')
    w("")
    w("[deal]")
    w("periods_per_year = 4          # quarterly interest [assumption]")
    w("term_periods = 4              # one-year loans [assumption: typical pledge-loan tenor]")
    w("")
    w("[simulation]")
    w("paths = 200000")
    w("seed = 442")
    w("")
    w("[credit]")
    w('copula = "gaussian"')
    w("asset_correlation = 0.15      # [assumption] Basel IRB SME range 0.12-0.21; a city-wide book,")
    w("                              # less concentrated than a single-district ABN pool (0.20)")
    w("sectors = [" + ", ".join(f'"{name}"' for name, _ in SECTORS) + "]   # industries [assumption]")
    w("sector_correlation = 0.5      # [assumption] one city; set 1.0 for the one-factor back-test")
    w("")
    w("[recovery]")
    w("beta = { a = 1.5, b = 4.5 }   # [assumption] bank pledge loan, mean 25% of the outstanding claim")
    w("lag_periods = 6               # [assumption] six quarters to dispose of the pledged patents;")
    w("                              # longer than the term, so every recovery arrives in period 4,")
    w("                              # after the parties have paid the principal they cover")
    w("# no appraised values are given, so the recovery base is the claim (principal outstanding)")
    w("")
    w("[[tiers]]")
    w('name = "risk pool 4:4:2"')
    w("parties = [")
    w("  # Hangzhou Hi-tech Financing Guarantee guarantees the loans and takes 40% (fact). Its cap is")
    w("  # 10x an assumed CNY 1.0bn of net assets (the regulatory leverage ceiling) [assumption];")
    w("  # it does not bind. annual_pd 0.3%: a municipal guarantor [assumption].")
    w('  { name = "guarantor", share = 0.4, cap = "10000000000", annual_pd = 0.003, principal_only = true },')
    w("  # City IP office's 40%, paid from the CNY 30m risk compensation fund (fact).")
    w('  { name = "ip_office_fund", share = 0.4, cap = "30000000", principal_only = true },')
    w("  # The lending bank keeps 20% (fact): a zero-cap party passes its share on, so it ends in")
    w("  # guarantor_shortfall / pool_loss, i.e. the bank's own loss.")
    w('  { name = "bank (retained)", share = 0.2, cap = 0, principal_only = true },')
    w("]")
    w("# principal_only [assumption]: the pool shares principal losses; missed interest stays with the bank.")
    w("# No tranches and no undertaker: a pledge-loan programme, read pool-level losses and party payouts.")
    w("")
    w(f"# Loans: rate {RATE} [assumption], bullet (the default), annual_pd {ANNUAL_PD} [assumption].")
    for i, (amt, sec) in enumerate(zip(amounts, sectors), start=1):
        w("")
        w("[[firms]]")
        w(f'id = "HZ{i:04d}"')
        w(f'sector = "{sec}"')
        w(f"principal = {amt}")
        w(f"rate = {RATE}")
        w(f"annual_pd = {ANNUAL_PD}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
