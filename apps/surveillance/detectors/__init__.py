"""The detectors, one module each, by name."""

from apps.surveillance.detectors.concentration import ConcentrationDetector
from apps.surveillance.detectors.excessive_messaging import ExcessiveMessagingDetector
from apps.surveillance.detectors.front_running import FrontRunningDetector
from apps.surveillance.detectors.gate_reconciliation import GateReconciliationDetector
from apps.surveillance.detectors.insider_dealing import InsiderDealingDetector
from apps.surveillance.detectors.layering import LayeringDetector
from apps.surveillance.detectors.marking_close import MarkingCloseDetector
from apps.surveillance.detectors.matched_orders import MatchedOrdersDetector
from apps.surveillance.detectors.ramping import RampingDetector
from apps.surveillance.detectors.rapid_fire import RapidFireDetector
from apps.surveillance.detectors.spoofing import SpoofingDetector
from apps.surveillance.detectors.wash_trade import WashTradeDetector

DETECTORS = {
    cls.name: cls
    for cls in (
        WashTradeDetector,
        SpoofingDetector,
        LayeringDetector,
        RapidFireDetector,
        ConcentrationDetector,
        MarkingCloseDetector,
        GateReconciliationDetector,
        MatchedOrdersDetector,
        ExcessiveMessagingDetector,
        InsiderDealingDetector,
        FrontRunningDetector,
        RampingDetector,
    )
}
