"""Price lists: effective dates without overlaps, versions, the tenant's own list over the default, rates, rounding."""

from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError

from billing.models import PriceList, PriceListVersion
from billing.pricing import PricingError, Rates, cost, gib_months, price_periods, quantity, total
from tests.support.base import BaseTestCase

NOV = datetime(2026, 11, 1, tzinfo=UTC)
MID_NOV = datetime(2026, 11, 16, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)


def price_list(**fields):
    values = {"name": "standard", "currency": "EUR", "effective_start": NOV, "cpu_core_hour": "0.031",
              "memory_gib_hour": "0.004", "gpu_hour": "1.50",
              "gpu_model_rates": {"NVIDIA H100 80GB HBM3": "4.10", "Jetson": "0.20"}}
    values.update(fields)
    return PriceList.objects.create(**values)


class PriceListTests(BaseTestCase):
    def test_a_list_that_overlaps_another_of_the_same_scope_is_refused(self):
        price_list(effective_end=DEC)
        with self.assertRaisesMessage(ValidationError, "overlaps"):
            price_list(name="later", effective_start=MID_NOV)
        with self.assertRaisesMessage(ValidationError, "overlaps"):
            PriceList(name="open", effective_start=datetime(2026, 1, 1, tzinfo=UTC), currency="EUR").full_clean()
        price_list(name="next", effective_start=DEC)  # end exclusive: December starts where November ends
        price_list(name="alpha's", tenant=self.alpha, effective_start=MID_NOV)  # another scope
        self.assertEqual(PriceList.objects.count(), 3)

    def test_an_end_before_the_start_or_a_bad_rate_is_refused(self):
        with self.assertRaises(ValidationError):
            price_list(effective_end=NOV)
        with self.assertRaisesMessage(ValidationError, "not a decimal rate"):
            price_list(gpu_model_rates={"A100": "cheap"})
        with self.assertRaisesMessage(ValidationError, "non-negative"):
            price_list(cpu_core_hour="-1")
        with self.assertRaisesMessage(ValidationError, "currency"):
            price_list(currency="euro")
        with self.assertRaisesMessage(ValidationError, "sets no rate"):
            price_list(node_label_rates=[{"label": "pool", "value": "gpu"}])
        self.assertEqual(PriceList.objects.count(), 0)

    def test_each_change_records_a_version_and_old_versions_stay_as_they_were(self):
        prices = price_list()
        self.assertEqual(prices.version, 1)
        prices.save()  # nothing changed: no new version
        PriceList.objects.get(pk=prices.pk).save()  # nor when read back from the database
        self.assertEqual(prices.versions.count(), 1)
        prices.cpu_core_hour = Decimal("0.035")
        prices.save()
        self.assertEqual((prices.version, prices.versions.count()), (2, 2))
        first = prices.versions.get(number=1)
        self.assertEqual(first.content["cpu_core_hour"], "0.031000")
        self.assertEqual(prices.current_version.content["cpu_core_hour"], "0.035000")
        first.content["cpu_core_hour"] = "0"
        with self.assertRaisesMessage(ValidationError, "frozen"):
            first.save()
        self.assertEqual(PriceListVersion.objects.get(pk=first.pk).content["cpu_core_hour"], "0.031000")

    def test_the_tenants_own_list_overrides_the_default_over_its_dates(self):
        default = price_list()
        own = price_list(name="negotiated", tenant=self.alpha, effective_start=MID_NOV, effective_end=DEC,
                         cpu_core_hour="0.02")
        periods = price_periods(self.alpha, NOV, JAN)
        self.assertEqual([(p.begin, p.end, p.version.price_list) for p in periods],
                         [(NOV, MID_NOV, default), (MID_NOV, DEC, own), (DEC, JAN, default)])
        self.assertEqual([(p.begin, p.end, p.version.price_list) for p in price_periods(self.beta, NOV, JAN)],
                         [(NOV, JAN, default)])

    def test_a_price_change_mid_month_splits_the_month_and_a_gap_has_no_list(self):
        november = price_list(effective_end=MID_NOV)
        later = price_list(name="raised", effective_start=MID_NOV, cpu_core_hour="0.04")
        periods = price_periods(self.beta, datetime(2026, 10, 25, tzinfo=UTC), DEC)
        self.assertEqual([(p.begin, p.end) for p in periods],
                         [(datetime(2026, 10, 25, tzinfo=UTC), NOV), (NOV, MID_NOV), (MID_NOV, DEC)])
        self.assertEqual([p.version and p.version.price_list for p in periods], [None, november, later])
        with self.assertRaises(PricingError):
            price_periods(self.beta, DEC, NOV)

    def test_rates_by_gpu_model_then_node_label_then_default(self):
        prices = price_list(node_label_rates=[
            {"label": "kubemon.io/pool", "value": "gpu", "cpu_core_hour": "0.05", "gpu_hour": "2.00"},
            {"label": "kubemon.io/generation", "value": "old", "memory_gib_hour": "0.002"},
        ])
        rates = Rates.of(prices.current_version)
        gpu_pool = {"kubemon.io/pool": "gpu"}
        self.assertEqual(rates.gpu("NVIDIA H100 80GB HBM3", gpu_pool), Decimal("4.10"))
        self.assertEqual(rates.gpu("Jetson"), Decimal("0.20"))
        self.assertEqual(rates.gpu("Tesla T4", gpu_pool), Decimal("2.00"))
        self.assertEqual(rates.gpu("Tesla T4"), Decimal("1.50"))
        self.assertEqual(rates.cpu(gpu_pool), Decimal("0.05"))
        self.assertEqual(rates.cpu({"kubemon.io/generation": "old"}), Decimal("0.031"))
        self.assertEqual(rates.memory({"kubemon.io/generation": "old"}), Decimal("0.002"))
        self.assertEqual(rates.memory(gpu_pool), Decimal("0.004"))

    def test_a_line_is_rounded_once_half_even_to_the_cent_and_totals_add_rounded_lines(self):
        self.assertEqual(cost(Decimal("0.5"), Decimal("0.05")), Decimal("0.02"))  # 0.025 → 0.02
        self.assertEqual(cost(Decimal("1.5"), Decimal("0.05")), Decimal("0.08"))  # 0.075 → 0.08
        self.assertEqual(total([Decimal("0.02"), Decimal("0.08")]), Decimal("0.10"))
        self.assertEqual(quantity(0.1 + 0.2), Decimal("0.300000"))
        self.assertEqual(gib_months(730), Decimal("1.000000"))
