/**
 * The both-ways comparisons (both-ways.test.ts) for a site in UTC. A live read of one UTC day in a
 * zone at UTC's time groups its rows without their days (query.ts, SumsQuery.sql), and goals over
 * whole UTC days count without joining the visits (visit-events.ts, eventsInAndOutOfVisits): a
 * site in Berlin never takes either, so the same data and comparisons run again here, the
 * unfiltered answers again checked against what was sent.
 */
process.env.BOTH_WAYS_TZ = 'UTC'
await import('./both-ways.test.ts')
