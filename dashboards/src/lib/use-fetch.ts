import { useLayoutEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from './api.ts'

export interface Fetched<T> {
  data: T | undefined
  error: ApiError | Error | undefined
  loading: boolean
}

/**
 * Runs `load` whenever `key` changes (null: nothing to load). The previous answer stays on
 * screen while the next one loads, so a filter click does not flash empty panels.
 */
export function useFetch<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>, refreshMs = 0): Fetched<T> {
  const [state, setState] = useState<Fetched<T>>({ data: undefined, error: undefined, loading: key !== null })
  const loadRef = useRef(load)
  loadRef.current = load
  // A layout effect runs right after the render; Preact runs plain effects after the next
  // paint, which costs up to 100 ms before a request even starts.
  useLayoutEffect(() => {
    if (key === null) return
    const controller = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = () => {
      setState((s) => ({ ...s, loading: true }))
      loadRef.current(controller.signal).then(
        (data) => setState({ data, error: undefined, loading: false }),
        (error: Error) => {
          if (controller.signal.aborted) return
          setState((s) => ({ data: s.data, error, loading: false }))
        },
      ).finally(() => {
        if (refreshMs && !controller.signal.aborted) timer = setTimeout(run, refreshMs)
      })
    }
    run()
    return () => {
      controller.abort()
      clearTimeout(timer)
    }
  }, [key, refreshMs])
  return state
}
