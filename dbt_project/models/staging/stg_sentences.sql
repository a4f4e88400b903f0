-- Sentences with their text, cut from the article text by their offsets (quotes_in_context
-- shows each quotation in the sentence(s) it was said in).
select
    s.article_id,
    s.sentence_id,
    s.paragraph_id,
    s."start",
    s."end",
    substring(a.text, s."start" + 1, s."end" - s."start") as sentence_text
from {{ source('newsdesk', 'sentences') }} as s
join {{ source('newsdesk', 'articles') }} as a using (article_id)
where a.retired_at is null  -- live articles only
