"""Receipt emails: render an Invoice (JSON) as HTML + plain text in the customer's locale."""

from connector.receipts.formatting import ReceiptDataError, format_money
from connector.receipts.render import Brand, Receipt, receipt_context, render_receipt

__all__ = ["Brand", "Receipt", "ReceiptDataError", "format_money", "receipt_context", "render_receipt"]
