"""One module per public data format. Each has `NAME`, `KIND` (conversation | preference), `fits(row) -> str | None`
(None when the row looks like this format, else why not) and `convert(row) -> list[dict]` (raising
`RecordError` with the field at fault). `chatrecipe.data.convert` tries them in the order of `FORMATS`."""

from chatrecipe.data.formats import (alpaca, arena, chatrecipe_native, hh_rlhf, oasst, sharegpt, shp, summarize,
                                     ultrafeedback)

FORMATS = [chatrecipe_native, alpaca, sharegpt, hh_rlhf, ultrafeedback, shp, summarize, arena, oasst]
BY_NAME = {module.NAME: module for module in FORMATS}
