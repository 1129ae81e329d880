{#- The message templates' placeholders, each with the SQL giving its raw value in
    int_messages__to_render (over its CTEs candidates, history, profiles, track_content, industry_content,
    default_content, roster). One list for both models: the view selects every value as raw_<key>, and
    triggered_messages escapes and fills in the same keys in the same order (so its two render halves
    stay as they were). -#}
{% macro message_placeholders() -%}
    {{ return({
        'name': 'profiles.name',
        'company': 'profiles.company',
        'plan': 'history.plan',
        'industry': 'history.industry',
        'track': 'history.effective_track',
        'effective_track': 'history.effective_track',
        'product_name': "'" ~ var('product_name') ~ "'",
        'first_action_track': 'track_content.first_action',
        'video_title': 'track_content.video_title',
        'video_url': 'track_content.video_url',
        'appcues_flow_id': 'track_content.appcues_flow_id',
        'content_difficulty': 'history.difficulty_level',
        'similar_company': 'coalesce(industry_content.similar_company, default_content.similar_company)',
        'industry_tool': 'coalesce(industry_content.industry_tool, default_content.industry_tool)',
        'metric': 'coalesce(industry_content.success_metric, default_content.success_metric)',
        'industry_benchmark': 'coalesce(industry_content.industry_benchmark, default_content.industry_benchmark)',
        'results_stat': 'coalesce(industry_content.results_stat, default_content.results_stat)',
        'case_study_url': 'coalesce(industry_content.case_study_url, default_content.case_study_url)',
        'integration_name': 'candidates.integration_name',
        'unused_feature': 'candidates.unused_feature',
        'feature_video_url': 'candidates.feature_video_url',
        'csm_name': 'roster.csm_name',
        'onboarding_score': 'history.onboarding_score',
        'next_action_label': "replace(history.next_action, '_', ' ')",
        'records_imported': 'history.records_imported',
        'integration_count': 'history.integration_count',
        'team_size': 'history.team_size',
        'churn_risk': 'history.churn_risk',
        'days_since_last_login': 'history.days_since_last_login',
        'unresolved_tickets': 'history.unresolved_tickets',
        'survey': 'candidates.survey',
        'nps_score': 'candidates.nps_score',
    }) }}
{%- endmacro %}
