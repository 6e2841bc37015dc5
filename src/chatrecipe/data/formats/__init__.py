"""One module per public data format. Each has `NAME`, `KIND` (conversation | preference), `SIGNATURE` (the fields
that identify it, for the detection's reason), `fits(row) -> str | None` (None when the row looks like this
format, else why not) and `convert(row) -> list[dict]` (raising `RecordError` with the field at fault), or
`convert_all(rows)` when its records span rows; `OPTIONS` names the keyword options it takes.
`chatrecipe.data.convert` tries them in the order of `FORMATS`: the most specific first."""

from chatrecipe.data.formats import (alpaca, arena, capybara, chatrecipe_native, h4, helpsteer2, hh_rlhf,
                                     implicit_prompt, nectar, oasst, oasst_trees, prompt_completion, sharegpt, shp,
                                     summarize, ultrafeedback, unpaired)

FORMATS = [oasst_trees, h4, chatrecipe_native, implicit_prompt, unpaired, prompt_completion, alpaca, sharegpt,
           capybara, hh_rlhf, nectar, ultrafeedback, helpsteer2, shp, summarize, arena, oasst]
BY_NAME = {module.NAME: module for module in FORMATS}
