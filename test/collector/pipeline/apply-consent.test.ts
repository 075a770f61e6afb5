import { describe, expect, it } from 'vitest'
import { applyConsentSignals } from '../../../collector/pipeline/apply-consent.ts'
import { base, context, makeEvent, policyWith } from './context.ts'

describe('applyConsentSignals', () => {
  const stances = (dnt: string, gpc: string) => policyWith({ consent: { dnt, gpc } })

  describe.each(['dnt', 'gpc'] as const)('%s', (signal) => {
    const other = signal === 'dnt' ? 'gpc' : 'dnt'
    const policyFor = (stance: string) => policyWith({ consent: { [signal]: stance, [other]: 'ignore' } })
    const eventFor = (stance: string, sent = true) => {
      const policy = policyFor(stance)
      return { event: makeEvent({}, { policy, [signal]: sent }), ctx: context({ policy }) }
    }

    it('drop: the event is dropped', () => {
      const { event, ctx } = eventFor('drop')
      expect(applyConsentSignals(event, ctx)).toEqual({ drop: `consent_${signal}` })
    })

    it('count_without_hash: the event passes, marked to get no visitor hash', () => {
      const { event, ctx } = eventFor('count_without_hash')
      expect(applyConsentSignals(event, ctx)).toBe(event)
      expect(event.withoutHash).toBe(true)
    })

    it('ignore: the event passes unchanged', () => {
      const { event, ctx } = eventFor('ignore')
      expect(applyConsentSignals(event, ctx)).toBe(event)
      expect(event.withoutHash).toBe(false)
    })

    it('without the signal, even a drop stance lets the event pass', () => {
      const { event, ctx } = eventFor('drop', false)
      expect(applyConsentSignals(event, ctx)).toBe(event)
      expect(event.withoutHash).toBe(false)
    })
  })

  it('with both signals, either stance can drop', () => {
    let policy = stances('drop', 'ignore')
    expect(applyConsentSignals(makeEvent({}, { policy, dnt: true, gpc: true }), context({ policy }))).toEqual({ drop: 'consent_dnt' })
    policy = stances('ignore', 'drop')
    expect(applyConsentSignals(makeEvent({}, { policy, dnt: true, gpc: true }), context({ policy }))).toEqual({ drop: 'consent_gpc' })
    policy = stances('drop', 'count_without_hash')
    expect(applyConsentSignals(makeEvent({}, { policy, dnt: true, gpc: true }), context({ policy }))).toEqual({ drop: 'consent_dnt' })
  })

  it('the strict policy honours both signals by dropping', () => {
    expect(applyConsentSignals(makeEvent({}, { dnt: true }), base)).toEqual({ drop: 'consent_dnt' })
    expect(applyConsentSignals(makeEvent({}, { gpc: true }), base)).toEqual({ drop: 'consent_gpc' })
  })
})
