-- Direct quotations; speaker is NULL when no speaker could be found.
select
    quote_id,
    article_id,
    sentence_id,
    paragraph_id,
    "start",
    "end",
    quote_text,
    speaker,
    speaker_type,
    speaker_id,
    speaker_role,
    attribution,
    cue,
    cited_outlet
from {{ source('newsdesk', 'quotes') }}
