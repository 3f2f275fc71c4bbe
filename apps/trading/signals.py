"""What trading tells the apps above it, which it may not import (DESIGN.md's dependency order).

Receivers run inside the sender's transaction: what they write commits or rolls back with it.
"""

from django.dispatch import Signal

# A held order (pending approval) was canceled, by any path: kwargs order, actor, reason.
held_order_canceled = Signal()
