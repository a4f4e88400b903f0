-- Every token lies inside its article and inside the sentence its row names (sentences are
-- cut around their tokens: pipeline/segment.py), and the text at the token is what the row
-- says. The same scope as assert_offsets_inside_text (var tests_scope), which checks the
-- other spans.
--
-- The token's text is cut from its sentence's text, not from the article's: substring() on
-- a UTF-8 text walks it from its first character, so cutting ~600 tokens from a whole
-- article is quadratic in the article's length (88 s of a 100k-article night's dbt build);
-- cut from its sentence (each sentence cut once), a token costs its sentence's length.
{% set batch_id = var('tests_scope', 'all') == 'batch' %}
{% set in_batch %}batch_id in (select batch_id from "{{ target.database }}".main.build_batch){% endset %}
with sentence_texts as (
    select s.article_id, s.sentence_id, s."start" as s_start, s."end" as s_end, x.n_chars,
           substring(x.text, s."start" + 1, s."end" - s."start") as s_text
    from {{ source('newsdesk', 'sentences') }} as s
    join {{ source('newsdesk', 'articles') }} as x using (article_id)
    {% if batch_id %}where x.{{ in_batch }}{% endif %}
)
select t.article_id, t.sentence_id, t."start", t."end", t.text
from {{ source('newsdesk', 'tokens') }} as t
{% if batch_id %}
-- tonight's tokens (the ids only: the texts are read once, for the sentences)
join (select article_id from {{ source('newsdesk', 'articles') }} where {{ in_batch }}) as b using (article_id)
{% endif %}
left join sentence_texts as st using (article_id, sentence_id)
where st.s_text is null  -- no such sentence, or no such article
   or t."start" < st.s_start or t."end" > st.s_end or t."end" <= t."start"
   or st.s_start < 0 or st.s_end > st.n_chars
   or (t.text is not null and substring(st.s_text, t."start" - st.s_start + 1, t."end" - t."start") != t.text)
