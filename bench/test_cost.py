"""The cost model, offline: Lambda's billing arithmetic, DynamoDB's units, Cognito's MAU, and a
table and picture from a report."""

import os
import tempfile
import unittest

import cost


def report(own_cold=50.2, own_warm=9.5):
    at = {}
    for kind, calls in (("sign_up", 2), ("token", 1)):
        at[f"own_cold_{kind}_ms"], at[f"own_warm_{kind}_ms"], at[f"calls_{kind}"] = own_cold, own_warm, calls
        at[f"calls_cold_{kind}"] = calls + 1  # the connection opened during init
    return {
        "date": "today",
        "settings": {"sizes_mb": [128, 1024], "init_cpu": "both"},
        "figures": {"function": {"sizes": {"128/share": at, "1024/share": at, "128/full": {}, "1024/full": {}}}},
    }


class TheCost(unittest.TestCase):
    def test_lambda_bills_gb_seconds_and_the_request(self):
        # 1,024 MB for 1,000 ms is one GB-second.
        self.assertAlmostEqual(cost.lambda_cost(1024, 1000), 0.0000166667 + 0.0000002)
        self.assertAlmostEqual(cost.lambda_cost(128, 8), 128 / 1024 * 0.008 * 0.0000166667 + 0.0000002)
        self.assertLess(cost.lambda_cost(1024, 1000, "arm64"), cost.lambda_cost(1024, 1000))

    def test_only_whole_milliseconds_are_billed(self):
        with self.assertRaises(ValueError):
            cost.lambda_cost(128, 7.5)
        # The function's own time and the services' allowance per call, rounded up.
        self.assertEqual(cost.billed_ms(9.5, 2), 9.5 + 2 * cost.CALL_ALLOWANCE_MS + 0.5)
        self.assertEqual(cost.billed_ms(9.01, 1), 10 + cost.CALL_ALLOWANCE_MS)

    def test_dynamodb_a_transaction_of_four_items_and_one_read(self):
        rows = {what: (sign_ups, tokens) for what, sign_ups, tokens, _ in cost.table(report())}
        sign_ups, tokens = rows["DynamoDB (8 write units; 1 read unit)"]
        self.assertAlmostEqual(sign_ups, 8 * 0.625)
        self.assertAlmostEqual(tokens, 0.125)

    def test_a_size_costs_in_proportion_and_cognito_dwarfs_it(self):
        rows = {what: (sign_ups, tokens) for what, sign_ups, tokens, _ in cost.table(report())}
        small, large = rows["Lambda at 128 MB, cold"][0], rows["Lambda at 1024 MB, cold"][0]
        requests = 0.20
        self.assertAlmostEqual((large - requests) / (small - requests), 8)
        self.assertEqual(rows["Cognito, LITE (a month of each new user)"], (5500.0, 0.0))
        self.assertGreater(rows["Cognito, LITE (a month of each new user)"][0], 100 * large)

    def test_the_table_and_the_picture_name_every_row(self):
        r = report()
        table = cost.markdown(r)
        # 9.5 ms of its own and 20 ms for each of a sign-up's two calls: 50 ms billed.
        self.assertIn("| Lambda at 128 MB, warm | 0.304 | 0.263 | 50 / 30 |", table)
        with tempfile.TemporaryDirectory() as work:
            path = os.path.join(work, "cost.svg")
            cost.draw(r, path)
            with open(path) as f:
                svg = f.read()
        for what, *_ in cost.table(r):
            self.assertIn(what, svg)
        self.assertIn("$5,500", svg)


if __name__ == "__main__":
    unittest.main()
