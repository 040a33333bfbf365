"""
Tests for L{twisted_netlab.mail._faults}: parsing ``--fault`` values and
counting occurrences.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._faults import FaultPlan, FaultRule, FaultSyntaxError, Stage, fault_text, parse_fault


class ParseFaultTests(SynchronousTestCase):
    def test_valid(self):
        """
        STAGE=CODE and STAGE=CODE:N parse, stage case-insensitive.
        """
        self.assertEqual(parse_fault("RCPT=451"), FaultRule(Stage.RCPT, 451, None))
        self.assertEqual(parse_fault("data=552:3"), FaultRule(Stage.DATA, 552, 3))
        self.assertEqual(parse_fault(" StartTLS = 454 "), FaultRule(Stage.STARTTLS, 454, None))

    def test_invalid(self):
        """
        Each malformed value raises FaultSyntaxError naming the problem.
        """
        for value, words in [
            ("RCPT", "STAGE=CODE"),
            ("RCPT=45", "STAGE=CODE"),
            ("RCPT=451:", "STAGE=CODE"),
            ("RCPT=451:x", "STAGE=CODE"),
            ("QUIT=451", "not one of"),
            ("RCPT=250", "400 to 599"),
            ("RCPT=699", "400 to 599"),
            ("RCPT=451:0", "counts from 1"),
        ]:
            error = self.assertRaises(FaultSyntaxError, parse_fault, value)
            self.assertIn(words, str(error), value)

    def test_overlaps_refused(self):
        """
        Two rules answering the same occurrence are refused; different
        occurrences of a stage combine.
        """
        plan = FaultPlan([parse_fault("RCPT=451:2"), parse_fault("RCPT=550:4")])
        self.assertRaises(FaultSyntaxError, plan.add, parse_fault("RCPT=452:2"))
        self.assertRaises(FaultSyntaxError, plan.add, parse_fault("RCPT=452"))
        plan = FaultPlan([parse_fault("MAIL=451")])
        self.assertRaises(FaultSyntaxError, plan.add, parse_fault("MAIL=550:1"))


class FaultPlanTests(SynchronousTestCase):
    def test_counting(self):
        """
        check() counts each call; only the listed occurrences fault.
        """
        plan = FaultPlan([parse_fault("RCPT=451:2"), parse_fault("RCPT=550:4")])
        answers = [plan.check(Stage.RCPT) for _ in range(5)]
        self.assertEqual([a and a.code for a in answers], [None, 451, None, 550, None])
        self.assertEqual(answers[1].count, 2)
        self.assertEqual(plan.count(Stage.RCPT), 5)
        self.assertEqual(plan.count(Stage.MAIL), 0)

    def test_closes_only_for_421(self):
        """
        Only 421 means "closing the channel".
        """
        plan = FaultPlan([parse_fault("MAIL=421"), parse_fault("RCPT=451")])
        self.assertTrue(plan.check(Stage.MAIL).closes)
        self.assertFalse(plan.check(Stage.RCPT).closes)

    def test_texts_match_class(self):
        """
        Every stage/code pair gets an enhanced code of the same class and a
        non-empty text.
        """
        for stage in Stage:
            for code in range(400, 600):
                enhanced, text = fault_text(stage, code)
                self.assertEqual(enhanced[0], str(code)[0], (stage, code))
                self.assertTrue(text)
